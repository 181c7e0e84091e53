"""The README's zoo table: `keras-vae zoo` on the shipped entries, written between its markers.

    python -m benchmarks.zoo_listing

Run it after a zoo entry is refreshed; `tests/test_benchmarks.py` checks that
the README's block is what this prints.
"""

import sys

from benchmarks.common import README, update_readme


def render():
    from keras_vae import cli

    # The repository's runs folder: a recipe without an entry shows how far its run is.
    return "```\n" + cli.zoo_table(str(README.parent / "runs")).rstrip() + "\n```"


def main(argv=None):
    text = render()
    print(text)
    if not update_readme("zoo", text):
        sys.exit("README.md has no zoo block")


if __name__ == "__main__":
    main()
