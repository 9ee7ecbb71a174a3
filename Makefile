# boso: two commands do all set-up on a fresh machine.
#   make site   the main job: data (offline snapshot or online fetch) -> processed -> reports -> chapters (PDF/Word) -> _site/
#   make test   lint + the whole test suite (unit, e2e on the snapshot, headless-Chromium browser tests)
# Both create .venv with pip when it is missing.

PYTHON   ?= python3
VENV     ?= .venv
BIN      := $(VENV)/bin
SNAPSHOT ?= ../shared/snapshot
# make site ONLINE=1 fetches from SSB/KLASS/IMDi/Geonorge instead of importing the snapshot.
ONLINE   ?=
KOMMUNER ?= --all
JOBS     ?=

.PHONY: site data reports test lint browser-deps lab bench reliability clean-site

$(BIN)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

data: $(BIN)/.installed
ifeq ($(ONLINE),1)
	$(BIN)/boso fetch
else
	$(BIN)/boso snapshot import $(SNAPSHOT)
endif
	$(BIN)/boso build

reports: data
	$(BIN)/boso reports $(KOMMUNER) $(if $(JOBS),--jobs $(JOBS))

# A failed report must not keep the others off the site: build the site anyway, then exit with
# the runner's status so the failure is not hidden.
# The statistikkvedlegg (PDF/Word) go into _site/kommuner/<knr>-<slug>/ before the site is
# rebuilt, so the site links and keeps them; without Chromium that step says so in one line.
site: data
	@status=0; $(BIN)/boso reports $(KOMMUNER) $(if $(JOBS),--jobs $(JOBS)) || status=$$?; \
	$(BIN)/boso chapter $(KOMMUNER) --skip-if-no-browser $(if $(JOBS),--jobs $(JOBS)) || status=$$?; \
	$(BIN)/boso site && exit $$status

lint: $(BIN)/.installed
	$(BIN)/ruff check lib tests bench notebooks tools
	$(BIN)/ruff format --check lib tests bench notebooks tools

# Debian's chromium for the browser tests (root on the CI and developer machines).
browser-deps:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "Installing Debian chromium for the browser tests"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium is missing and cannot be installed here: browser tests will be skipped"; fi; }
	@command -v pdftoppm >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "Installing Debian poppler-utils (pdftoppm) for the chapter tests"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq poppler-utils >/dev/null; \
	  else echo "pdftoppm is missing and cannot be installed here: PDF page images will be skipped"; fi; }

test: $(BIN)/.installed browser-deps lint
	BOSO_SNAPSHOT=$(abspath $(SNAPSHOT)) $(BIN)/pytest

lab: $(BIN)/.installed
	$(BIN)/python -m pip install --quiet -e '.[lab]'
	$(BIN)/jupyter lab notebooks/

bench: $(BIN)/.installed
	BOSO_SNAPSHOT=$(abspath $(SNAPSHOT)) $(BIN)/python bench/run_all.py

clean-site:
	rm -rf _site site_src .boso-chapter-keys

# The robustness suite, counted per family into RELIABILITY.md.
reliability: $(BIN)/.installed
	BOSO_SNAPSHOT=$(abspath $(SNAPSHOT)) $(BIN)/python tools/reliability_report.py
