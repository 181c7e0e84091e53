"""Build hook: the wheel carries the zoo entries as keras_vae/zoo_entries.

Only the standard wheel: an editable install reads them from zoo/ in the
checkout, so copying 16+ MB into site-packages would only waste space.
"""

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class ZooEntries(BuildHookInterface):
    PLUGIN_NAME = "custom"

    def initialize(self, version, build_data):
        if version == "standard":
            build_data["force_include"]["zoo"] = "keras_vae/zoo_entries"
