"""An AMP page checked against the AMP validator's own rules, offline.

The validator engine (``validator.js``, or its WebAssembly build) is only on cdn.ampproject.org:
the npm ``amphtml-validator`` CLI and ``@ampproject/toolbox-validator-rules`` download it, or its
rules, at run time. Its *rules* are shipped by the npm package ``amphtml-validator-rules`` (3.0.0,
spec file revision 882: the AMP Project's validator protoascii as JSON). The AMP-format part of
them is kept in ``tests/fixtures/amp-validator-rules-882.json.gz``, and this module applies them
the way the validator does for what an embedding page uses:

- every element must match one of the tag specs for its tag name (mandatory parent and
  ancestor, disallowed ancestors, dispatch attributes);
- every attribute must be allowed by that spec, its attribute lists or the global attributes
  (``data-*`` always; layout attributes where the spec has an AMP layout), with the spec's
  values, regexes, refused regexes and URL protocols; mandatory attributes and any-of groups;
- the supported layouts of an AMP element, with the height a fixed-height layout needs;
- style/script contents: size limits, refused patterns (``!important``, ``i-amphtml-``, HTML
  comments) and the exact boilerplate;
- every mandatory tag of an AMP page (or one of its alternatives), unique tags once, and the
  extension script of every element or template that requires one.

What it does not do (the engine does): CSS property allow-lists, descendant lists, URL
reference points and the transformed (cache-served) variants of the format.
"""

from __future__ import annotations

import gzip
import json
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

RULES_PATH = Path(__file__).resolve().parent.parent / "fixtures" / "amp-validator-rules-882.json.gz"
_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
_LAYOUT_ATTRS = {"width", "height", "layout", "sizes", "heights", "media", "noloading"}


@dataclass
class Element:
    tag: str  # upper case, as the rules name tags
    attrs: dict[str, str]
    parent: str
    ancestors: tuple[str, ...]
    text: str = ""


class _Tree(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[Element] = []
        self._stack: list[Element] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        ancestors = tuple(e.tag for e in self._stack)
        parent = ancestors[-1] if ancestors else "!DOCTYPE"
        el = Element(tag.upper(), {k: v or "" for k, v in attrs}, parent, ancestors)
        self.elements.append(el)
        if tag not in _VOID:
            self._stack.append(el)

    def handle_decl(self, decl: str) -> None:
        name, *rest = decl.split()
        if name.lower() == "doctype":
            self.elements.append(Element("!DOCTYPE", {word.lower(): "" for word in rest}, "$ROOT", ()))

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self._stack) - 1, -1, -1):
            if self._stack[i].tag == tag.upper():
                del self._stack[i:]
                return

    def handle_data(self, data: str) -> None:
        if self._stack and self._stack[-1].tag in ("STYLE", "SCRIPT"):
            self._stack[-1].text += data


def load_rules() -> dict[str, Any]:
    with gzip.open(RULES_PATH, "rt", encoding="utf-8") as f:
        rules: dict[str, Any] = json.load(f)
    return rules


class AmpRules:
    """``errors(html)``: what the AMP validator's rules refuse in a page (empty when it passes)."""

    def __init__(self, rules: dict[str, Any] | None = None) -> None:
        rules = rules or load_rules()
        self.revision = rules.get("specFileRevision")
        # Specs of the cache-transformed format apply only to pages an AMP cache rewrote.
        self.specs = [t for t in rules["tags"] if "AMP" in t.get("htmlFormat", []) and not t.get("enabledBy")]
        self.by_tag: dict[str, list[dict[str, Any]]] = {}
        for spec in self.specs:
            self.by_tag.setdefault(spec["tagName"], []).append(spec)
        self.lists = {lst["name"]: {a["name"]: a for a in lst.get("attrs", [])} for lst in rules["attrLists"]}

    def errors(self, html: str) -> list[str]:
        tree = _Tree()
        tree.feed(html)
        tree.close()
        found: list[str] = []
        matched: list[tuple[Element, dict[str, Any]]] = []
        for el in tree.elements:
            spec, problems = self._match(el)
            if spec is None:
                found.extend(problems)
            else:
                matched.append((el, spec))
                found.extend(self._cdata_errors(el, spec))
        found.extend(self._document_errors(tree.elements, matched))
        return found

    def _match(self, el: Element) -> tuple[dict[str, Any] | None, list[str]]:
        candidates = [s for s in self.by_tag.get(el.tag, []) if self._applies(el, s)]
        if not candidates:
            return None, [f"<{el.tag.lower()}> is not allowed here (parent <{el.parent.lower()}>)"]
        # Specs picked by a dispatch attribute first, as the validator dispatches.
        candidates.sort(key=lambda s: not any(a.get("dispatchKey") for a in s.get("attrs", [])))
        best: list[str] | None = None
        for spec in candidates:
            problems = self._attr_errors(el, spec)
            if not problems:
                return spec, []
            if best is None or len(problems) < len(best):
                best = problems
        return None, best or []

    @staticmethod
    def _applies(el: Element, spec: dict[str, Any]) -> bool:
        parent = spec.get("mandatoryParent")
        if parent and parent != el.parent:
            return False
        ancestor = spec.get("mandatoryAncestor")
        if ancestor and ancestor not in el.ancestors:
            return False
        if any(a in el.ancestors for a in spec.get("disallowedAncestor", []) if " " not in a):
            return False
        extension = spec.get("extensionSpec")
        if extension is not None:
            return el.attrs.get(_extension_attr(extension)) == extension["name"]
        for attr in spec.get("attrs", []):
            if attr.get("dispatchKey"):
                if attr["name"] not in el.attrs:
                    return False
                if (
                    "value" in attr
                    and "VALUE" in attr["dispatchKey"]
                    and el.attrs[attr["name"]] not in attr["value"]
                ):
                    return False
        return True

    def _attr_errors(self, el: Element, spec: dict[str, Any]) -> list[str]:
        allowed: dict[str, dict[str, Any]] = {}
        for name in spec.get("attrLists", []):
            allowed.update(self.lists.get(name, {}))
        allowed.update({a["name"]: a for a in spec.get("attrs", [])})
        extension = spec.get("extensionSpec")
        if extension is not None:  # the attributes the validator derives from an extension's spec
            versions = "|".join(re.escape(v) for v in extension.get("version", []))
            name = re.escape(extension["name"])
            allowed[_extension_attr(extension)] = {"name": _extension_attr(extension), "mandatory": True}
            allowed["src"] = {
                "name": "src",
                "mandatory": True,
                "valueRegex": rf"https://cdn\.ampproject\.org/(lts/)?v0/{name}-({versions})\.js",
            }
        common = self.lists["$GLOBAL_ATTRS"]
        where = f"<{el.tag.lower()}> ({spec.get('specName', el.tag.lower())})"
        problems = []
        for name, value in el.attrs.items():
            rule = allowed.get(name) or common.get(name)
            if rule is None:
                if name.startswith("data-") or ("ampLayout" in spec and name in _LAYOUT_ATTRS):
                    continue
                if el.tag == "HTML" and name in ("⚡", "amp"):
                    continue
                problems.append(f"{where}: attribute {name!r} is not allowed")
                continue
            problems.extend(f"{where}: {p}" for p in _value_errors(name, value, rule))
        groups: dict[str, list[str]] = {}
        for rule in allowed.values():
            if rule.get("mandatory") and rule["name"] not in el.attrs:
                problems.append(f"{where}: mandatory attribute {rule['name']!r} is missing")
            if rule.get("mandatoryAnyof"):
                groups.setdefault(rule["mandatoryAnyof"], []).append(rule["name"])
            if rule.get("mandatoryOneof"):
                groups.setdefault(rule["mandatoryOneof"], []).append(rule["name"])
        for group, names in groups.items():
            if not any(n in el.attrs for n in names):
                problems.append(f"{where}: one of {group} is required")
        if el.tag == "HTML" and not ({"⚡", "amp"} & el.attrs.keys()):
            problems.append("<html> needs the ⚡ (or amp) attribute")
        if "ampLayout" in spec:
            problems.extend(f"{where}: {p}" for p in _layout_errors(el, spec["ampLayout"]))
        return problems

    @staticmethod
    def _cdata_errors(el: Element, spec: dict[str, Any]) -> list[str]:
        cdata = spec.get("cdata")
        if not cdata:
            return []
        where = f"<{el.tag.lower()}> ({spec.get('specName', el.tag.lower())})"
        problems = []
        limit = cdata.get("maxBytes")
        if limit is not None and len(el.text.encode()) > limit:
            problems.append(f"{where}: {len(el.text.encode())} bytes, over the limit of {limit}")
        for refused in cdata.get("blacklistedCdataRegex", []):
            if re.search(refused["regex"], el.text, re.IGNORECASE):
                problems.append(f"{where}: contains {refused['errorMessage']}")
        if "cdataRegex" in cdata and re.fullmatch(cdata["cdataRegex"], el.text) is None:
            problems.append(f"{where}: contents differ from the required text")
        return problems

    def _document_errors(
        self, elements: list[Element], matched: list[tuple[Element, dict[str, Any]]]
    ) -> list[str]:
        problems = []
        used = [spec for _, spec in matched]
        ids = {id(s) for s in used}
        alternatives = {s.get("mandatoryAlternatives") for s in used if s.get("mandatoryAlternatives")}
        for spec in self.specs:
            if not spec.get("mandatory") or id(spec) in ids:
                continue
            if spec.get("mandatoryAlternatives") in alternatives and spec.get("mandatoryAlternatives"):
                continue
            problems.append(f"the mandatory tag {spec.get('specName', spec['tagName'].lower())!r} is missing")
        for spec in {id(s): s for s in used if s.get("unique")}.values():
            if sum(1 for s in used if s is spec) > 1:
                problems.append(f"{spec.get('specName', spec['tagName'].lower())!r} appears more than once")
        loaded = {
            el.attrs.get("custom-element") or el.attrs.get("custom-template")
            for el in elements
            if el.tag == "SCRIPT"
        }
        for spec in used:
            for extension in spec.get("requiresExtension", []):
                if extension not in loaded:
                    problems.append(f"<{spec['tagName'].lower()}> requires the {extension} extension script")
        return sorted(set(problems), key=problems.index)


def _extension_attr(extension: dict[str, Any]) -> str:
    return "custom-template" if extension.get("extensionType") == "CUSTOM_TEMPLATE" else "custom-element"


def _value_errors(name: str, value: str, rule: dict[str, Any]) -> list[str]:
    problems = []
    if "value" in rule and value not in rule["value"]:
        problems.append(f"{name}={value!r} is not one of {rule['value']}")
    if "valueCasei" in rule and value.lower() not in [v.lower() for v in rule["valueCasei"]]:
        problems.append(f"{name}={value!r} is not one of {rule['valueCasei']}")
    if "valueRegex" in rule and re.fullmatch(rule["valueRegex"], value) is None:
        problems.append(f"{name}={value!r} does not match {rule['valueRegex']}")
    if "valueRegexCasei" in rule and re.fullmatch(rule["valueRegexCasei"], value, re.IGNORECASE) is None:
        problems.append(f"{name}={value!r} does not match {rule['valueRegexCasei']}")
    if "blacklistedValueRegex" in rule and re.search(rule["blacklistedValueRegex"], value, re.IGNORECASE):
        problems.append(f"{name}={value!r} matches the refused {rule['blacklistedValueRegex']}")
    url = rule.get("valueUrl")
    if url is not None:
        if not value.strip():
            if not url.get("allowEmpty"):
                problems.append(f"{name} is an empty URL")
        else:
            scheme = urlsplit(value.strip()).scheme.lower()
            if scheme and scheme not in url.get("protocol", []):
                problems.append(f"{name}={value!r}: protocol {scheme!r} is not one of {url.get('protocol')}")
            if not scheme and url.get("allowRelative") is False:
                problems.append(f"{name}={value!r}: a relative URL is not allowed")
    return problems


def _layout_errors(el: Element, layout_spec: dict[str, Any]) -> list[str]:
    layout = el.attrs.get("layout", "").upper().replace("-", "_")
    if not layout:  # the validator infers one: fixed-height from a height alone, fixed from both
        if "height" in el.attrs:
            layout = "FIXED" if el.attrs.get("width", "auto") != "auto" else "FIXED_HEIGHT"
        else:
            layout = "CONTAINER"
    problems = []
    if layout not in layout_spec.get("supportedLayouts", []):
        problems.append(f"layout {layout.lower()} is not supported")
    if layout in ("FIXED", "FIXED_HEIGHT", "RESPONSIVE") and not re.fullmatch(
        r"\d+(\.\d+)?(px)?", el.attrs.get("height", "")
    ):
        problems.append(f"layout {layout.lower()} needs a height")
    if layout == "FIXED_HEIGHT" and el.attrs.get("width", "auto") != "auto":
        problems.append("layout fixed-height takes no width (or width=auto)")
    return problems
