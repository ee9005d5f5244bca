"""plabel: pseudo-label management for Noisy-Student self-training on images.

Every command of the `plabel` CLI is a call of a function here; see docs/ for the pairs.
"""
__version__ = "0.1.0"

from plabel.errors import PlabelError, UsageError  # noqa: E402
from plabel.workspace import Workspace, init_workspace, open_workspace  # noqa: E402

__all__ = ["PlabelError", "UsageError", "Workspace", "init_workspace", "open_workspace", "__version__"]
