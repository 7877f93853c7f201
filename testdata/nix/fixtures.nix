# Test fixtures: real Nix store paths with real references, built offline
# from the host's own binaries (docs: host-facts §3.2). Needs nix.conf with
# `sandbox = false`, so builders can read host files; run through
# scripts/build-fixtures.sh.
#
# Every executable is patched (patchelf) to load its interpreter and
# libraries from store paths, so the paths appear inside the files and
# Nix's reference scanner records true references: nix-store -qR gives the
# exact set of paths a sandbox needs.
#
# Arguments:
#   salt    a non-empty value forces fresh rebuilds of everything.
#   hostId  a fingerprint of the host packages copied (the script passes
#           the dpkg versions), so a host upgrade rebuilds the copies.
{ salt ? "", hostId ? "" }:
let
  inherit (builtins) genList elemAt toString concatStringsSep;
  system = builtins.currentSystem;

  mk = { name, script, fromHost ? true, env ? { } }:
    derivation ({
      inherit name system;
      builder = "/bin/sh";
      args = [ "-e" "-c" script ];
      PATH = "/usr/bin:/bin";
    } // (if salt != "" then { inherit salt; } else { })
      // (if fromHost && hostId != "" then { inherit hostId; } else { })
      // env);

  hostlib = "/lib/x86_64-linux-gnu";
  glibcNames = "ld-linux-x86-64.so.2 libc.so.6 libm.so.6 libdl.so.2 libpthread.so.0 librt.so.1 libresolv.so.2 libnss_files.so.2 libutil.so.1";

  glibc = mk {
    name = "glibc-2.36-host";
    script = ''
      mkdir -p $out/lib
      for l in ${glibcNames}; do cp -L ${hostlib}/$l $out/lib/; done
      chmod u+w $out/lib/*
    '';
  };

  # Shell functions shared by the builders that patch host ELF files.
  prelude = ''
    ldso=${glibc}/lib/ld-linux-x86-64.so.2
    is_glibc() {
      case " ${glibcNames} " in *" $1 "*) return 0 ;; esac
      return 1
    }
    # hostdeps FILE...: "soname path" of every non-glibc library the host
    # files need, transitively (ldd), one per line.
    hostdeps() {
      ldd "$@" 2>/dev/null | awk '$2 == "=>" && $3 ~ /^\// { print $1, $3 }' |
        sort -u | while read -r so path; do
          is_glibc "$so" || echo "$so $path"
        done
    }
    patch_exe() { # FILE RPATH
      chmod u+w "$1"
      patchelf --set-interpreter "$ldso" --set-rpath "$2" "$1"
    }
    patch_lib() { # FILE RPATH
      chmod u+w "$1"
      patchelf --set-rpath "$2" "$1"
    }
    # verify FILE...: every library of every file resolves into /nix/store
    # (ld.so would otherwise fall back to the host's ld.so.cache).
    verify() {
      for f in "$@"; do
        if ! list=$("$ldso" --list "$f" 2>&1); then
          echo "verify: $f: $list" >&2
          exit 1
        fi
        bad=$(echo "$list" | awk '$2 == "=>" && $3 !~ /^\/nix\/store\// { print }')
        if [ -n "$bad" ]; then
          echo "verify: $f resolves outside the store:" >&2
          echo "$bad" >&2
          exit 1
        fi
      done
    }
  '';

  # hostLib copies one host library and points its RUNPATH at deps.
  hostLib = name: soname: deps: mk {
    inherit name;
    script = prelude + ''
      mkdir -p $out/lib
      cp -L ${hostlib}/${soname} $out/lib/
      patch_lib $out/lib/${soname} ${concatStringsSep ":" (map (d: "${d}/lib") deps)}
      verify $out/lib/${soname}
    '';
  };

  pcre2 = hostLib "pcre2-host" "libpcre2-8.so.0" [ glibc ];
  libselinux = hostLib "libselinux-host" "libselinux.so.1" [ pcre2 glibc ];
  ncurses = hostLib "ncurses-host" "libtinfo.so.6" [ glibc ];

  # libBundle copies every non-glibc library the given host ELF files need
  # (found with ldd at build time) into one store path, each with RUNPATH
  # $out/lib:<glibc>/lib.
  libBundle = name: files: mk {
    inherit name;
    script = prelude + ''
      mkdir -p $out/lib
      hostdeps ${files} >deps
      while read -r so path; do
        cp -L "$path" "$out/lib/$so"
        patch_lib "$out/lib/$so" "$out/lib:${glibc}/lib"
      done <deps
      verify $out/lib/*
    '';
  };

  # kill is a bash builtin (procps' kill is not coreutils). cp and mv are
  # left out: they need libacl and libattr, and coreutils stays at 4 paths.
  coreutilsTools = [
    "true" "false" "ls" "cat" "echo" "env" "sleep" "id" "mkdir" "head"
    "wc" "stat" "readlink" "realpath" "touch" "rm" "rmdir" "tail" "printf"
    "uname" "tr" "sort" "uniq" "cut" "test" "[" "nproc" "timeout" "seq"
    "basename" "dirname" "pwd" "date" "ln" "chmod" "du" "df"
    "whoami" "tee" "mktemp" "yes"
  ];

  coreutils = mk {
    name = "coreutils-host";
    script = prelude + ''
      mkdir -p $out/bin
      for t in ${concatStringsSep " " (map (t: "'${t}'") coreutilsTools)}; do
        cp -L "/usr/bin/$t" "$out/bin/$t"
        patch_exe "$out/bin/$t" ${libselinux}/lib:${pcre2}/lib:${glibc}/lib
      done
      verify $out/bin/*
    '';
  };

  bash = mk {
    name = "bash-host";
    script = prelude + ''
      mkdir -p $out/bin
      cp -L /usr/bin/bash $out/bin/bash
      patch_exe $out/bin/bash ${ncurses}/lib:${glibc}/lib
      ln -s bash $out/bin/sh
      verify $out/bin/bash
    '';
  };

  pyver = "3.11";
  python3Libs = libBundle "python3-libs-host"
    "/usr/bin/python${pyver} /usr/lib/python${pyver}/lib-dynload/*.so";
  python3 = mk {
    name = "python3-host";
    script = prelude + ''
      mkdir -p $out/bin $out/lib
      cp -L /usr/bin/python${pyver} $out/bin/python${pyver}
      ln -s python${pyver} $out/bin/python3
      patch_exe $out/bin/python${pyver} ${python3Libs}/lib:${glibc}/lib
      # The stdlib without bytecode caches (stale anyway: the store resets
      # mtimes), the test suite and the static-link config dir.
      tar -C /usr/lib -c -h \
        --exclude=__pycache__ \
        --exclude=python${pyver}/test \
        --exclude=python${pyver}/config-${pyver}-x86_64-linux-gnu \
        python${pyver} | tar -C $out/lib -x
      chmod -R u+w $out/lib
      for m in $out/lib/python${pyver}/lib-dynload/*.so; do
        patch_lib "$m" ${python3Libs}/lib:${glibc}/lib
      done
      verify $out/bin/python${pyver} $out/lib/python${pyver}/lib-dynload/*.so
    '';
  };

  curlLibs = libBundle "curl-libs-host" "/usr/bin/curl";
  curl = mk {
    name = "curl-host";
    script = prelude + ''
      mkdir -p $out/bin
      cp -L /usr/bin/curl $out/bin/curl
      patch_exe $out/bin/curl ${curlLibs}/lib:${glibc}/lib
      verify $out/bin/curl
    '';
  };

  # cProgram compiles src/<name>.c with the host gcc. The source is copied
  # into the build dir first, so no source store path ends up in the binary.
  cProgram = name: mk {
    name = "${name}-test";
    env.src = ./src + "/${name}.c";
    script = prelude + ''
      cp "$src" ${name}.c
      mkdir -p $out/bin
      gcc -O2 -s -o $out/bin/${name} ${name}.c
      patch_exe $out/bin/${name} ${glibc}/lib
      verify $out/bin/${name}
    '';
  };

  # nbx-probe: the seccomp errno probe (security suite §5, §7), linked
  # statically with the host's libc.a, so its closure is just itself. It
  # refuses to run outside a sandbox.
  probe = mk {
    name = "nbx-probe";
    env.src = ./src/nbx-probe.c;
    script = ''
      cp "$src" nbx-probe.c
      mkdir -p $out/bin
      gcc -O2 -static -s -o $out/bin/nbx-probe nbx-probe.c
    '';
  };

  # A bash script with a bash and coreutils closure; its own closure size
  # is computed at build time from exportReferencesGraph.
  demo = mk {
    name = "nixbox-demo";
    fromHost = false;
    env = {
      src = ./src/nixbox-demo.sh;
      exportReferencesGraph = [ "graph" bash "graph2" coreutils ];
    };
    script = ''
      n=$(cat graph graph2 | grep '^/nix/store/' | grep -v '\.drv$' | sort -u | wc -l)
      n=$((n + 1))
      mkdir -p $out/bin
      sed -e "s|@bash@|${bash}|g" -e "s|@coreutils@|${coreutils}|g" \
        -e "s|@closureSize@|$n|g" "$src" >$out/bin/nixbox-demo
      chmod 0555 $out/bin/nixbox-demo
    '';
  };

  # A closureInfo-style output for the demo (store-paths, as nixpkgs'
  # closureInfo writes it), for ReadClosureInfo and closureinfo: tests.
  demoClosureInfo = mk {
    name = "nixbox-demo-closure-info";
    fromHost = false;
    env.exportReferencesGraph = [ "graph" demo ];
    script = ''
      mkdir -p $out
      grep '^/nix/store/' graph | grep -v '\.drv$' | sort -u >$out/store-paths
    '';
  };

  # $out is a symlink to /etc: the sandbox must recreate it as a symlink,
  # never bind-mount through it.
  evilSymlink = mk {
    name = "evil-symlink";
    fromHost = false;
    script = "ln -s /etc $out";
  };

  evilApp = mk {
    name = "evil-app";
    fromHost = false;
    script = ''
      mkdir -p $out/bin
      cat >$out/bin/evil-app <<EOF
      #!${bash}/bin/bash
      # Tries to read the host's /etc through the evil-symlink closure member.
      export PATH=${coreutils}/bin
      ls ${evilSymlink}/ && cat ${evilSymlink}/shadow
      EOF
      chmod 0555 $out/bin/evil-app
    '';
  };

  # Synthetic closures of exact size: syn-lib-i references syn-lib-(i-1)
  # and syn-lib-(i/2); closure(syn-lib-k) = syn-lib-0 .. syn-lib-k.
  # 1998 nodes serve app2000 (benchmarks only); syn-lib-i depends only on
  # lower indices, so the count changes no existing derivation, and the
  # index (what tests build) still needs only syn-lib-0 .. syn-lib-497.
  synCount = 1998;
  synLibs = genList synLib synCount;
  synLib = i: mk {
    name = "syn-lib-${toString i}";
    fromHost = false;
    env.deps = if i == 0 then [ ] else [ (elemAt synLibs (i - 1)) (elemAt synLibs (i / 2)) ];
    script = ''
      mkdir -p $out/lib
      { for d in $deps; do echo "$d"; done; head -c 4096 /dev/zero | tr '\0' x; } |
        head -c 4096 >$out/lib/data
    '';
  };

  # appN = a patched `true` (refs glibc) + a reference to syn-lib-(N-3):
  # closure(appN) = appN, glibc, syn-lib-0 .. syn-lib-(N-3) = N paths.
  app = n: mk {
    name = "app${toString n}";
    script = prelude + ''
      mkdir -p $out/bin $out/lib
      cp -L /usr/bin/true $out/bin/app${toString n}
      patch_exe $out/bin/app${toString n} ${glibc}/lib
      echo ${elemAt synLibs (n - 3)} >$out/lib/deps
    '';
  };

  hello = cProgram "hello";
  memhog = cProgram "memhog";
  forkbomb = cProgram "forkbomb";
  app10 = app 10;
  app100 = app 100;
  app500 = app 500;
  # Benchmarks only (scripts/bench-fixtures.sh): not in the index, so the
  # test fixtures build never pays for its ~1500 extra derivations.
  app2000 = app 2000;

  # Key = store path, for build/fixtures.env and build/fixtures.json.
  keys = {
    GLIBC = glibc; PCRE2 = pcre2; LIBSELINUX = libselinux; NCURSES = ncurses;
    COREUTILS = coreutils; BASH = bash; PYTHON3 = python3; CURL = curl;
    HELLO = hello; MEMHOG = memhog; FORKBOMB = forkbomb; DEMO = demo;
    PROBE = probe;
    DEMO_CLOSUREINFO = demoClosureInfo;
    EVIL_SYMLINK = evilSymlink; EVIL_APP = evilApp;
    APP10 = app10; APP100 = app100; APP500 = app500;
  };
  keyNames = builtins.attrNames keys;

  # One root that references every fixture: a single gcroot keeps them all
  # alive, and its files give the key → path map.
  index = mk {
    name = "nixbox-fixtures";
    fromHost = false;
    script = ''
      mkdir -p $out
      {
      ${concatStringsSep "\n" (map (k: "echo ${k}=${keys.${k}}") keyNames)}
      } >$out/fixtures.env
      {
        echo '{'
      ${concatStringsSep "\n" (genList (i:
        let k = elemAt keyNames i; in
        "echo '  \"${k}\": \"${keys.${k}}\"${if i + 1 < builtins.length keyNames then "," else ""}'"
      ) (builtins.length keyNames))}
        echo '}'
      } >$out/fixtures.json
    '';
  };
in
{
  inherit glibc pcre2 libselinux ncurses coreutils bash python3 python3Libs
    curl curlLibs hello memhog forkbomb demo demoClosureInfo evilSymlink
    evilApp app10 app100 app500 app2000 probe index;
}
