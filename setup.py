"""Build hook: ship the top-level ``catalogs/`` folder inside the package.

All metadata lives in pyproject.toml.  The star catalog is kept in
``catalogs/`` (with its provenance README) rather than inside ``pointing/``;
this copies it to ``pointing/catalogs/`` in every built wheel, so
``pip install .`` works outside a checkout.  The loader
(:func:`pointing.sky.catalog.catalog_path`) looks there first, then in the
checkout.
"""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildPyWithCatalogs(build_py):
    def run(self):
        super().run()
        source = Path(__file__).resolve().parent / "catalogs"
        target = Path(self.build_lib) / "pointing" / "catalogs"
        self.mkpath(str(target))
        for path in sorted(source.glob("*")):
            if path.suffix in (".ecsv", ".md"):
                self.copy_file(str(path), str(target / path.name))


setup(cmdclass={"build_py": BuildPyWithCatalogs})
