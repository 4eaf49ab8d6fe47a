"""The example of docs/offline.md runs as written."""

import re

from tests.conftest import REPO


def test_family_doc_example_runs():
    text = (REPO / "docs" / "offline.md").read_text()
    code = re.search(r"```python\n(.*?)```", text, re.S).group(1)
    namespace: dict = {}
    exec(compile(code, "docs/offline.md", "exec"), namespace)
    assert namespace["history"].updates[-1] == 100
