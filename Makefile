# Two commands matter: `make run` opens the app, `make test` runs every test.
# Both install what is missing first (Debian/Ubuntu packages via apt, tauri-driver via cargo).
# Optional extras: `make package` builds the .deb, `make bench-startup` compares start-up, memory
# and size with a Tauri hello world, `make bench-window` times the window's list pages on a large
# store.

CARGO ?= cargo
# The release binaries every release target builds together, so cargo unifies the features of
# their dependencies once and the desktop app is the same binary whichever target built it.
RELEASE_PKGS = -p teams-scheduler -p tsched -p tsched-sandbox
XVFB = xvfb-run -a -s "-screen 0 1280x800x24" dbus-run-session --

.PHONY: run test deps-run deps-test deps-package check screenshots package bench-startup bench-window

run: deps-run
	$(CARGO) build --release $(RELEASE_PKGS)
	./target/release/teams-scheduler

test: deps-test
	$(CARGO) build --workspace --bins
	$(XVFB) scripts/test-in-session.sh

deps-run:
	scripts/ensure-deps.sh run
	scripts/check-programs.sh run

deps-test:
	scripts/ensure-deps.sh test
	scripts/check-programs.sh test

deps-package:
	scripts/ensure-deps.sh package

# What CI runs besides the tests.
check:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

# Regenerates the README screenshots from the real window.
screenshots: deps-test
	$(CARGO) build --workspace --bins
	$(XVFB) $(CARGO) test -p tsched-e2e --test screenshots -- --ignored

# The .deb (Tauri bundler, deb target): the desktop app plus tsched and tsched-sandbox in /usr/bin,
# and the host agent's systemd user unit (packaging/tsched-agent.service).
# Prints its path: target/release/bundle/deb/teams-scheduler_VERSION_ARCH.deb.
package: deps-package
	$(CARGO) build --release $(RELEASE_PKGS)
	scripts/package.sh

# Start-up to first paint, PSS after 10 s idle and binary size against the Tauri hello world in
# benches/startup/hello, alternating 10 runs of each; BENCH_ARGS="--runs 20" etc. pass through.
bench-startup: deps-test
	$(CARGO) build --release $(RELEASE_PKGS) -p startup-hello -p startup-bench
	$(XVFB) $(CARGO) run --release -q -p startup-bench -- $(BENCH_ARGS)

# The window's list pages (100 rows) on the store of the store_scale bench (made on first use,
# about a minute, then reused), in the release app over WebDriver; BENCH_ARGS="--runs 40" etc.
bench-window: deps-test
	$(CARGO) bench -p tsched-core --bench store_scale -- --data-only
	$(CARGO) build --release $(RELEASE_PKGS)
	$(XVFB) $(CARGO) bench -p tsched-e2e --bench window_lists -- $(BENCH_ARGS)
