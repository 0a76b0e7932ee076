# Two commands matter: `make run` opens the app, `make test` runs every test.
# Both install what is missing first (Debian/Ubuntu packages via apt, tauri-driver via cargo).

CARGO ?= cargo

.PHONY: run test deps-run deps-test check screenshots

run: deps-run
	$(CARGO) build --release -p teams-scheduler -p tsched -p tsched-sandbox
	./target/release/teams-scheduler

test: deps-test
	$(CARGO) build --workspace --bins
	xvfb-run -a -s "-screen 0 1280x800x24" dbus-run-session -- scripts/test-in-session.sh

deps-run:
	scripts/ensure-deps.sh run

deps-test:
	scripts/ensure-deps.sh test

# What CI runs besides the tests.
check:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

# Regenerates the README screenshots from the real window.
screenshots: deps-test
	$(CARGO) build --workspace --bins
	xvfb-run -a -s "-screen 0 1280x800x24" dbus-run-session -- $(CARGO) test -p tsched-e2e --test screenshots -- --ignored
