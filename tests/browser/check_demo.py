#!/usr/bin/env python3
"""End-to-end test of the web demo of `semb serve` in a real browser (headless chromium driven
over WebDriver by webdriver.py): loads the page, fills each tab as a user would, clicks, waits
for the result and checks it against the JSON API's own answer to the same request, then saves
a screenshot of each tab. One line per check ("ok   NAME" / "FAIL NAME: why", as
tests/lib_cli.sh), the screenshots' paths, and exit status 1 when a check failed.

usage: check_demo.py --url URL --out DIR [--page web/index.html] [--api-key KEY] [--no-index]
  --url       the server's base URL (http://HOST:PORT)
  --out       where the screenshots (TAB.png) and chromedriver.log go
  --page      the page's source: GET / must serve exactly these bytes
  --api-key   the server was started with --api-key KEY: requests without it must show the
              401 error, then the key is typed into the page's key field
              (then only the Similarity tab runs)
  --no-index  the server has no index: only check that the Search tab says so
  --prefix    put before each screenshot's name (runs sharing one --out)"""

import argparse
import json
import math
import os
import sys
import traceback
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from webdriver import DIRECT, Browser, WebDriverError  # noqa: E402

SIM_SOURCE = "A man is playing a guitar."
SIM_CANDIDATES = ["A person plays an instrument.", "The guitarist performs on stage.",
                  "A woman is slicing onions."]
QA_QUESTION = "How do I reset my password?"
QA_CANDIDATES = ["Open Settings and click Forgot password to get a reset link.",
                 "Our offices are open from nine to five.",
                 "Passwords must be at least twelve characters long.",
                 "You can change the colour theme under Appearance."]
SEARCH_QUERY = "how to install a python package"
CLUSTER_TEXTS = ["The cat sleeps on the sofa.", "A kitten plays with a ball of wool.",
                 "Dogs love to chase cats.", "The stock market fell sharply today.",
                 "Investors sold shares after the earnings report.",
                 "The central bank raised interest rates."]
OCCUPATIONS = ["nurse", "engineer", "teacher", "carpenter"]


class Failed(Exception):
    """A check that did not hold; the message says what was seen."""


def expect(condition, message):
    if not condition:
        raise Failed(message)


class Demo:
    def __init__(self, browser, args):
        self.b = browser
        self.url = args.url.rstrip("/") + "/"
        self.out = args.out
        self.key = args.api_key
        self.prefix = args.prefix
        self.passed = 0
        self.failed = 0

    # ---- reporting ----
    def check(self, name, slug, step):
        try:
            step()
        except (Failed, WebDriverError, OSError, ValueError, KeyError, TypeError) as e:
            self.failed += 1
            print("FAIL %s: %s" % (name, e), flush=True)
            if not isinstance(e, (Failed, WebDriverError)):
                traceback.print_exc()
            self.shoot(slug + "-FAILED")
            return False
        self.passed += 1
        print("ok   %s" % name, flush=True)
        return True

    def shoot(self, name):
        """A PNG of the whole page (the window grown to fit it) in the output folder."""
        try:
            height = self.b.execute("return document.documentElement.scrollHeight;")
            self.b.set_window_size(1280, max(800, min(int(height) + 140, 6000)))
            path = self.b.screenshot(os.path.join(self.out, self.prefix + name + ".png"))
            print("screenshot: %s" % os.path.abspath(path), flush=True)
        except (WebDriverError, OSError) as e:
            print("     (no screenshot %s: %s)" % (name, e), flush=True)

    # ---- the API, asked directly: what the page must show ----
    def api(self, path, body):
        headers = {"Content-Type": "application/json"}
        if self.key:
            headers["Authorization"] = "Bearer " + self.key
        req = urllib.request.Request(self.url + path, data=json.dumps(body).encode(), headers=headers)
        with DIRECT.open(req, timeout=120) as response:
            return json.loads(response.read())

    # ---- page helpers ----
    def fill(self, css, text):
        self.b.find(css).fill(text)

    def rows(self, css, n, timeout=None):
        """Waits until exactly n elements match css; returns them."""
        return self.b.wait_for("%d x %s" % (n, css),
                               lambda: (lambda found: found if len(found) == n else None)(self.b.find_all(css)),
                               timeout)

    def error_text(self, prefix):
        return self.b.find("#%s-error" % prefix).text

    def no_error(self, prefix):
        text = self.error_text(prefix)
        expect(not text, "the page shows an error: %s" % text)

    def tab(self, name):
        self.b.find("#tab-" + name).click()
        self.b.wait_for("the %s panel" % name, lambda: self.b.find("#panel-" + name).is_displayed())

    def scores(self, elements):
        values = [float(e.attribute("data-score")) for e in elements]
        expect(all(math.isfinite(v) for v in values), "scores not finite: %s" % values)
        return values

    # ---- the checks ----
    def page_source(self, page_file):
        with DIRECT.open(self.url, timeout=30) as response:
            served, ctype = response.read(), response.headers.get("Content-Type")
        expect(ctype == "text/html; charset=utf-8", "GET / content type %r" % ctype)
        with open(page_file, "rb") as f:
            expect(served == f.read(), "GET / does not serve %s byte for byte" % page_file)

    def loads(self):
        self.b.get(self.url)
        info = self.b.wait_for("the server info from /health",
                               lambda: (lambda t: t if t.startswith("Model ") else None)(self.b.find("#server-info").text))
        expect("dimensions" in info, "server info %r" % info)

    def api_key(self):
        """Without the key the page shows the 401; with it typed in, requests pass."""
        self.fill("#sim-source", SIM_SOURCE)
        self.fill("#sim-candidates", "\n".join(SIM_CANDIDATES))
        self.b.find("#sim-run").click()
        text = self.b.wait_for("the 401 error", lambda: self.error_text("sim"))
        expect("401" in text and "unauthorized" in text, "error without the key: %r" % text)
        self.fill("#api-key", self.key)
        stored = self.b.execute("return sessionStorage.getItem('semb.apiKey');")
        expect(stored == self.key, "sessionStorage holds %r" % stored)

    def similarity(self):
        self.tab("similarity")
        self.fill("#sim-source", SIM_SOURCE)
        self.fill("#sim-candidates", "\n".join(SIM_CANDIDATES))
        self.b.find("#sim-run").click()
        rows = self.rows("#sim-result li.bar-row", len(SIM_CANDIDATES))
        self.no_error("sim")
        labels = [r.find(".bar-label").text for r in rows]
        expect(labels == SIM_CANDIDATES, "bars labelled %s" % labels)
        want = self.api("similarity", {"source": SIM_SOURCE, "candidates": SIM_CANDIDATES})
        got = self.scores(rows)
        expect(all(abs(g - w) < 1e-6 for g, w in zip(got, want["scores"])),
               "bars %s, API %s" % (got, want["scores"]))
        if want.get("similarity") == "cosine":
            expect(all(-1.0001 <= s <= 1.0001 for s in got), "cosines out of [-1, 1]: %s" % got)
        self.shoot("similarity")

    def qa(self):
        self.tab("qa")
        self.fill("#qa-question", QA_QUESTION)
        self.fill("#qa-candidates", "\n".join(QA_CANDIDATES))
        self.fill("#qa-top-k", "")
        self.b.find("#qa-run").click()
        rows = self.rows("#qa-result ol.ranked > li", len(QA_CANDIDATES))
        self.no_error("qa")
        got = self.scores(rows)
        expect(all(a >= b for a, b in zip(got, got[1:])), "not best first: %s" % got)
        order = [int(r.attribute("data-index")) for r in rows]
        want = self.api("rank", {"query": QA_QUESTION, "candidates": QA_CANDIDATES})
        expect(order == [r["index"] for r in want["results"]], "order %s, API %s" % (order, want["results"]))
        expect(QA_CANDIDATES[order[0]] in rows[0].text, "the best row does not show its text: %r" % rows[0].text)
        self.shoot("qa")

    def search(self):
        self.tab("search")
        expect(not self.b.find("#search-note").is_displayed(), "the no-index note shows with an index")
        self.fill("#search-query", SEARCH_QUERY)
        self.fill("#search-k", "3")
        self.b.find("#search-run").click()
        rows = self.rows("#search-result ol.hits > li", 3)
        self.no_error("search")
        got = self.scores(rows)
        expect(all(a >= b for a, b in zip(got, got[1:])), "not best first: %s" % got)
        want = self.api("search", {"query": SEARCH_QUERY, "k": 3})
        expect(all(abs(g - w["score"]) < 1e-6 for g, w in zip(got, want["results"])),
               "hits %s, API %s" % (got, want["results"]))
        meta = self.b.find("#search-result .meta").text
        expect("of %d documents" % want["documents"] in meta, "meta %r" % meta)

    def cluster(self):
        self.fill("#cluster-texts", "\n".join(CLUSTER_TEXTS))
        self.b.find("#cluster-method").select("kmeans")
        self.fill("#cluster-k", "2")
        self.b.find("#cluster-run").click()
        groups = self.rows("#cluster-result .cluster", 2)
        self.no_error("cluster")
        members = self.b.execute(
            "return Array.from(document.querySelectorAll('#cluster-result .cluster')).map("
            "c => Array.from(c.querySelectorAll('li')).map(li => Number(li.dataset.member)));")
        expect(sorted(m for g in members for m in g) == list(range(len(CLUSTER_TEXTS))),
               "members %s" % members)
        want = self.api("cluster", {"texts": CLUSTER_TEXTS, "method": "kmeans", "k": 2})
        expect(members == [c["members"] for c in want["clusters"]], "groups %s, API %s" % (members, want["clusters"]))
        expect(CLUSTER_TEXTS[members[0][0]] in groups[0].text, "group 1 does not show its texts")
        self.shoot("search-cluster")

    def bias_error(self):
        """A template naming no occupation: the server's 400 shows in the page."""
        self.tab("bias")
        self.fill("#bias-occupations", "nurse")
        self.fill("#bias-templates", "The boss left. | {pronoun} left.")
        self.b.find("#bias-run").click()
        text = self.b.wait_for("the 400 error", lambda: self.error_text("bias"))
        expect(text.startswith("Error 400"), "error %r" % text)

    def bias(self):
        self.tab("bias")
        self.fill("#bias-occupations", "\n".join(OCCUPATIONS))
        self.fill("#bias-templates", "")
        self.b.find("#bias-run").click()
        rows = self.rows("#bias-result li.bias-row[data-occupation]", len(OCCUPATIONS), timeout=60)
        self.no_error("bias")
        names = sorted(r.attribute("data-occupation") for r in rows)
        expect(names == sorted(OCCUPATIONS), "rows %s" % names)
        prefs = [r.attribute("data-preference") for r in rows]
        expect(all(p in ("female", "male", "neutral") for p in prefs), "preferences %s" % prefs)
        overall = self.b.find("#bias-overall").text
        expect(overall.startswith("Overall:"), "overall %r" % overall)
        self.shoot("bias")

    def no_index(self):
        self.tab("search")
        note = self.b.find("#search-note")
        expect(note.is_displayed() and "no search index" in note.text, "note %r" % note.text)
        expect(not self.b.find("#search-run").is_enabled(), "the Search button is enabled")
        self.shoot("search-no-index")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--page")
    parser.add_argument("--api-key")
    parser.add_argument("--no-index", action="store_true")
    parser.add_argument("--prefix", default="", help="put before each screenshot's name")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--chromedriver", default="chromedriver")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    with Browser(args.chromium, args.chromedriver, os.path.join(args.out, "chromedriver.log")) as browser:
        demo = Demo(browser, args)
        if args.page:
            demo.check("GET / serves the page", "page", lambda: demo.page_source(args.page))
        if not demo.check("page loads, /health shown", "load", demo.loads):
            return 1
        if args.no_index:
            demo.check("search without an index says so", "search-no-index", demo.no_index)
        elif args.api_key:
            # the similarity tab only: every request carries the key through the same function
            if demo.check("api key: 401 shown, then the key is used", "api-key", demo.api_key):
                demo.check("similarity with the key", "similarity", demo.similarity)
        else:
            demo.check("similarity: one bar per sentence, the API's scores", "similarity", demo.similarity)
            demo.check("qa: answers ranked as /rank", "qa", demo.qa)
            demo.check("search: hits as /search", "search", demo.search)
            demo.check("cluster: groups as /cluster", "search-cluster", demo.cluster)
            demo.check("bias: an API error is shown", "bias-error", demo.bias_error)
            demo.check("bias: one chart row per occupation", "bias", demo.bias)
    print("check_demo: %d passed, %d failed" % (demo.passed, demo.failed), flush=True)
    return 1 if demo.failed else 0


if __name__ == "__main__":
    sys.exit(main())
