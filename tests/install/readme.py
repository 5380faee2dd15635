"""The ``kubectl`` lines of the README's "Install" section, in order, as a user copies them.

The install test runs these lines as written, so the README cannot drift from
what works.  Lines that cannot run on these machines (no Docker, no internet)
are named in :data:`ELSEWHERE` with what the test does in their place; a line
the README gains is run as written unless it is named there.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"

CERT_MANAGER_URL = "https://github.com/cert-manager/cert-manager/releases/download/v1.21.2/cert-manager.yaml"

# Lines the README gives that need what these machines do not have, and what the test does instead.
ELSEWHERE: dict[str, str] = {
    "kind create cluster --name otelwire --config kind-config.yaml": (
        "the test plane: kube-apiserver, etcd, controller manager, scheduler and kwok nodes built from Go"
    ),
    "docker build -t ghcr.io/otelwire/otelwire:0.1.0 .": (
        "the image's content: the wheel in a venv of the system Python, run as the Dockerfile says"
    ),
    "kind load docker-image ghcr.io/otelwire/otelwire:0.1.0 --name otelwire": "(nothing to load)",
    f"kubectl apply -f {CERT_MANAGER_URL}": (
        "cert-manager v1.21.2 from its Go module: its CRDs applied, its controller and cainjector run"
    ),
    "kubectl -n cert-manager rollout status deployment/cert-manager-webhook": (
        "cert-manager's own webhook is not run here; its controller and cainjector are running"
    ),
}


@dataclass(frozen=True)
class Line:
    section: str  # "install", "upgrade" or "uninstall": the paragraph the block belongs to
    text: str

    @property
    def argv(self) -> list[str]:
        """The arguments after ``kubectl``."""
        words = shlex.split(self.text)
        assert words[0] == "kubectl", self.text
        return words[1:]


def install_section(text: str | None = None) -> str:
    readme = README.read_text(encoding="utf-8") if text is None else text
    start = readme.index("\n## Install\n")
    end = readme.index("\n## ", start + 1)
    return readme[start:end]


def lines(text: str | None = None) -> list[Line]:
    """Every command line of the Install section's ``sh`` blocks, with the paragraph it is in."""
    section = install_section(text)
    out: list[Line] = []
    for match in re.finditer(r"```sh\n(.*?)```", section, re.S):
        before = section[: match.start()]
        heading = re.findall(r"\*\*(Upgrade|Uninstall)\*\*", before)
        paragraph = heading[-1].lower() if heading else "install"
        for raw in match.group(1).splitlines():
            command = raw.strip()
            if command and not command.startswith("#"):
                out.append(Line(paragraph, command))
    return out
