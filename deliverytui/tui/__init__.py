"""The Textual application. The only package (with ``cli``) allowed to import Textual."""
