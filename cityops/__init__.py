"""CityOps: the composition root — configuration, the CLI, and the wiring that starts the parts."""

from pathlib import Path

# The demo city (`cityops run --demo`): its configuration, regions and rules, shipped inside the package so that an
# installed CityOps runs it from any folder.
DEMO_DIR = Path(__file__).resolve().parent / "demo"
