"""The mTLS load balancer (host kind ``glb``), modelled on Google Cloud's external Application Load Balancer.

:mod:`.server` is the trio shell; :mod:`.mtls` the client-certificate verdict; :mod:`.logentry` the
Cloud-Logging-shaped entries.
"""

from lab.hosts.glb.server import serve

__all__ = ["serve"]
