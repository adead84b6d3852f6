"""axe-core in every page the browser tests open: each document is checked when it has loaded,
and a test can check the state in front of it at any moment (after a script changed the page).

The script is added through the DevTools protocol, which the pages' Content-Security-Policy
(`script-src 'self'`) does not govern: the policy itself stays as served.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from playwright.sync_api import BrowserContext, Page

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
# WCAG 2.1 A and AA plus axe's best practices (landmarks, headings, regions).
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]
_RUN = """async () => {
  const result = await axe.run(document, {runOnly: {type: "tag", values: TAGS},
                                          resultTypes: ["violations"]});
  return result.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 5).map(n => n.target.join(" "))}));
}""".replace("TAGS", json.dumps(TAGS))
_ON_LOAD = """
window.addEventListener("load", () => setTimeout(async () => {
  if (window.top !== window || typeof axe === "undefined") return;
  const run = RUN;
  window.__axeReport(location.pathname + location.search, await run());
}, 0));
""".replace("RUN", _RUN)


@cache
def axe_source() -> str:
    if not AXE.exists():
        raise RuntimeError(f"{AXE} is missing: `make axe` installs axe-core from package.json")
    return AXE.read_text(encoding="utf-8")


@dataclass
class Findings:
    """Violations seen so far in one browser context, by the page (path) they were found on."""

    checked: list[str] = field(default_factory=list)
    violations: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def add(self, where: str, found: list[dict[str, Any]]) -> None:
        self.checked.append(where)
        self.violations.extend((where, v) for v in found)

    def report(self) -> str:
        return "\n".join(
            f"{where}: {v['impact']} {v['id']} ({v['help']}) at {', '.join(v['nodes'])}"
            for where, v in self.violations
        )


def watch(context: BrowserContext) -> Findings:
    """Check every document the context loads; what is found collects in the result."""
    findings = Findings()
    context.expose_function("__axeReport", findings.add)
    context.add_init_script(axe_source() + "\n" + _ON_LOAD)
    return findings


def check(page: Page, findings: Findings) -> None:
    """Check the page as it is now (a state a script produced, not a fresh load)."""
    where = page.evaluate("location.pathname + location.search")
    findings.add(str(where), page.evaluate(_RUN))
