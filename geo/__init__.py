"""geo: check the spatial claims of the Beijing city sub-center (Tongzhou, 通州区) plan against
OpenStreetMap.

Data flows one way: areas -> sources -> facilities / demand / network -> coverage -> claims ->
reports, maps, CLI, notebooks. Metric work happens in EPSG:32650 (UTM 50N); frames handed to users
are WGS84 (EPSG:4326).
"""

import logging

__version__ = "0.1.0"
ATTRIBUTION = "© OpenStreetMap contributors"

logging.getLogger(__name__).addHandler(logging.NullHandler())
