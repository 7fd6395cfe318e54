"""``lab serve``: a browser terminal per learner, each on a lab of its own.

Theory of operation. ``lab serve --learners 30 --scenario proxy-resolve`` makes one secret token per learner
(:mod:`.seats`) and prints one URL each. A learner's browser loads a page with xterm.js (installed from the
npm registry by ``make web`` into the git-ignored ``web/node_modules``), which opens a WebSocket back to the
server (:mod:`.web`). The first time a token connects, the server starts that learner's lab: a separate
``lab up SCENARIO`` process on a pseudo-terminal (:mod:`.terminal`, :mod:`.child`), which makes its own
network and mount namespaces, so learners never see each other's hosts, ``/etc/hosts``, shells or curl
runs. Keystrokes go to the terminal, its output to the browser; closing the tab leaves the lab running for
the idle timeout, and coming back within it resumes the same shell. Ctrl-C or SIGTERM hangs up every lab;
a lab whose server died gets SIGHUP from the kernel (parent-death signal) and ends the same way.

In a container (``LAB_IN_PLACE=1``, one learner per container or Kubernetes pod) the learner's lab takes
the container's own namespace; :mod:`lab.runtime.inplace` then keeps the container's network interfaces
for the terminal's port only (``LAB_IN_PLACE_TERMINAL``) instead of taking them down.

Why hypercorn: the server side needs HTTP (the page, its scripts, 403s) and WebSockets on trio. hypercorn
serves both from one small ASGI app with a native trio worker, and is built on the same sans-io libraries
the lab already uses for its hosts (h11, h2) plus wsproto for WebSockets; trio-websocket speaks
WebSockets only (pages would have to be faked as rejected handshakes), and an ASGI framework would add
routing we do not need for four routes.
"""
