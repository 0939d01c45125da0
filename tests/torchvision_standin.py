"""A stand-in torchvision for the tests that run timm's model code.

timm imports torchvision at import time (transforms, FrozenBatchNorm2d), but the models the
tests build never use it, and PyPI's torchvision wheel does not load beside torch's CPU wheel
(tests/test_clients.py explains). ``install()`` keeps a real torchvision that loads; otherwise
it puts a package on ``sys.meta_path`` whose every attribute is a placeholder class.
"""

import importlib.abc
import importlib.machinery
import sys
import types


def install():
    """True if the stand-in was installed, False if the real torchvision loads."""
    try:
        import torchvision  # noqa: F401
        return False
    except Exception:
        pass

    class _Meta(type):
        def __getattr__(cls, name):
            if name.startswith("__"):
                raise AttributeError(name)
            return _Meta(name, (object,), {})

    class _Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
        def find_spec(self, fullname, path, target=None):
            if fullname == "torchvision.models.feature_extraction":
                return None
            if fullname == "torchvision" or fullname.startswith("torchvision."):
                return importlib.machinery.ModuleSpec(fullname, self, is_package=True)
            return None

        def create_module(self, spec):
            m = types.ModuleType(spec.name)
            m.__path__ = []
            if spec.name == "torchvision":
                # transformers parses the version (is_torchvision_greater_or_equal, at import
                # of its image processors): the release paired with torch 2.13
                m.__version__ = "0.28.0"

            def ga(name):
                if name.startswith("__"):
                    raise AttributeError(name)
                return _Meta(name, (object,), {})
            m.__getattr__ = ga
            return m

        def exec_module(self, module):
            pass

    for k in [k for k in sys.modules if k == "torchvision" or k.startswith("torchvision.")]:
        del sys.modules[k]
    sys.meta_path.insert(0, _Finder())
    return True
