"""``deliverytui serve``: Textual apps in a browser (textual-serve), behind a token when off loopback.

textual-serve starts one subprocess per visitor and has no authentication of its own; this package adds
the access check (:mod:`deliverytui.serve.server`) and never passes the token to any subprocess.
"""
