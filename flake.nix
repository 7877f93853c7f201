{
  description = "nixbox: run Nix-packaged apps in unprivileged sandboxes";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";

  outputs = { self, nixpkgs }:
    let
      version = "0.1.0-dev";
      systems = [ "x86_64-linux" "aarch64-linux" ];
      forAllSystems = f: nixpkgs.lib.genAttrs systems (system: f nixpkgs.legacyPackages.${system});

      # The hermetic tests (style.md §3, §8.9): unit, golden and fuzz-seed
      # tests plus the architecture and in-process CLI tests. No sandbox,
      # no user namespace, no network: they run in the Nix build sandbox.
      # Keep in step with PURE_PKGS in the Makefile.
      checkPkgs = [
        "./profiles/..."
        "./seccomp/..."
        "./runtime/closure/..."
        "./runtime/specgen/..."
        "./runtime/hostenv/..."
        "./runtime/rootfs/..."
        "./runtime/appres/..."
        "./runtime/hostfs/..."
        "./archtest/..."
        "./cmd/nixbox/..."
      ];

      nixboxFor = pkgs: pkgs.buildGoModule {
        pname = "nixbox";
        inherit version;
        src = ./.;

        # The hash of the `go mod vendor` tree (fixed-output derivation):
        # the NAR hash of `go mod vendor` with go1.26.8 on go.mod/go.sum as
        # committed ("nix hash path --sri vendor", reproduced). It cannot be
        # checked against nixpkgs here (no nixpkgs, no network); if nixpkgs'
        # Go vendors differently, `nix build` fails with "hash mismatch ...
        # got: sha256-..." and that value goes here. Update it whenever
        # go.mod or go.sum changes.
        vendorHash = "sha256-2kMcNO4jZeuxCYlXz0CtiCglY8sGSQTQeyejyclk9Lk=";

        # go.mod says "go 1.26.8"; if nixpkgs' default go is older, use
        # pkgs.buildGo126Module (or buildGoModule.override { go = ...; }).

        # The release binary: cgo (libcontainer's nsenter is a C
        # constructor) and -tags seccomp, like runc's BUILDTAGS; libsqlite3
        # links the closure query's SQLite driver (mattn/go-sqlite3) against
        # pkgs.sqlite instead of its bundled copy (runtime/closure/resolve.go
        # says why it is not the pure-Go one).
        env.CGO_ENABLED = "1";
        tags = [ "seccomp" "libsqlite3" ];
        ldflags = [ "-s" "-w" "-X main.version=${version}" ];

        nativeBuildInputs = [ pkgs.pkg-config ];
        buildInputs = [ pkgs.libseccomp pkgs.sqlite pkgs.glibc.static ];

        subPackages = [ "cmd/nixbox" ];

        # nixbox-init runs inside the sandbox and must be static. It has one
        # C constructor (cmd/nixbox-init/userns.go), linked against static
        # glibc. nixbox looks for it next to its own binary or in
        # ../libexec/nixbox/nixbox-init (hostenv.FindInit).
        postBuild = ''
          CGO_ENABLED=1 go build -ldflags '-s -w -linkmode external -extldflags "-static"' -o nixbox-init.static ./cmd/nixbox-init
        '';
        postInstall = ''
          install -Dm755 nixbox-init.static $out/libexec/nixbox/nixbox-init
        '';

        # The default checkPhase only tests subPackages; run the hermetic
        # suite instead (never ./integration: it needs real sandboxes).
        checkPhase = ''
          runHook preCheck
          go test -tags seccomp -count=1 ${nixpkgs.lib.concatStringsSep " " checkPkgs}
          runHook postCheck
        '';

        meta = {
          description = "Run Nix-packaged apps in unprivileged sandboxes";
          mainProgram = "nixbox";
          platforms = systems;
        };
      };
    in
    {
      packages = forAllSystems (pkgs: {
        default = nixboxFor pkgs;
      });

      apps = nixpkgs.lib.genAttrs systems (system: {
        default = {
          type = "app";
          program = "${self.packages.${system}.default}/bin/nixbox";
          meta.description = "Run Nix-packaged apps in unprivileged sandboxes";
        };
      });

      devShells = forAllSystems (pkgs: {
        default = pkgs.mkShell {
          packages = [
            pkgs.go
            pkgs.gcc
            pkgs.pkg-config
            pkgs.runc
            pkgs.patchelf
            pkgs.hyperfine
          ];
          buildInputs = [ pkgs.libseccomp pkgs.sqlite pkgs.glibc.static ];
        };
      });

      # `nix flake check`: building the package runs checkPhase above.
      checks = nixpkgs.lib.genAttrs systems (system: {
        unit = self.packages.${system}.default;
      });
    };
}
