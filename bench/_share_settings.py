"""Settings of the benchmark's BARE server: the product's settings plus the bare lookup (bench only).

Everything — middleware, database options, installed apps — is govshare.settings, so a request to the bare
lookup goes through the same granian + Django + short middleware chain as /api/v1/share's /records; only
one more middleware answers `bench/share/<cls>/<seq>/records`, which the product itself never has.
"""

from govshare.settings import *  # noqa: F403

ROOT_URLCONF = "bench._share_urls"
# The bare lookup takes the same short middleware chain as the delivery API it is compared with.
GOVSHARE_LEAN_PREFIXES = [*GOVSHARE_LEAN_PREFIXES, "/bench/share/"]  # noqa: F405
GOVSHARE_LEAN_MIDDLEWARE = [*GOVSHARE_LEAN_MIDDLEWARE, "bench._share_urls.BareRoutes"]  # noqa: F405
