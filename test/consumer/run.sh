#!/usr/bin/env bash
# The consumer test: what a user gets from npm. Packs every package, installs the tarballs into an
# empty project with plain npm and no C compiler reachable (so the prebuilt addon is what loads),
# runs the README's fifteen-line example with plain node, require()s pollux from CommonJS, and
# type-checks a TypeScript consumer under NodeNext, Node16 and bundler resolution. Then installs
# @pollux/poll-epoll, whose `epoll` dependency compiles from source, with the compiler back.
# Prints tarball sizes, install time and the example's output; any failed step fails the script.
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/pollux-consumer-XXXXXX")"
trap 'rm -rf "$work"' EXIT
pnpm() { npx -y pnpm@10.34.9 "$@"; }
npm_install() { npm install --no-audit --no-fund --loglevel=warn "$@"; }

echo "-- build and pack (prepack: tsc -b and scripts/bundle.mjs; @pollux/sys also prebuildify --napi)"
(cd "$repo" && pnpm run --silent build && pnpm -r --filter './packages/*' --reporter=silent pack --pack-destination "$work/tarballs" >/dev/null)
echo "tarballs (compressed / unpacked):"
for tarball in "$work"/tarballs/*.tgz; do
  printf '  %-34s %7s / %7s\n' "$(basename "$tarball")" "$(du -h --apparent-size "$tarball" | cut -f1)" \
    "$(tar -xzf "$tarball" -O | wc -c | numfmt --to=iec)"
done
prebuilt=$(tar -tzf "$work"/tarballs/pollux-sys-*.tgz | grep '^package/prebuilds/linux-x64/.*\.node$') || { echo "no prebuilt addon in the @pollux/sys tarball" >&2; exit 1; }
echo "prebuilt addon in @pollux/sys: ${prebuilt#package/}"


echo "-- npm install into an empty project, no compiler reachable"
mkdir -p "$work/app" "$work/no-compiler"
for tool in cc gcc g++ c++ clang make; do
  printf '#!/bin/sh\necho "%s: no compiler in the consumer test" >&2\nexit 127\n' "$tool" >"$work/no-compiler/$tool"
  chmod +x "$work/no-compiler/$tool"
done
cd "$work/app"
echo '{ "name": "consumer", "private": true, "type": "module" }' >package.json
tarballs=("$work"/tarballs/*.tgz)
without_epoll=("${tarballs[@]/*poll-epoll*/}")
started=$(date +%s%N)
PATH="$work/no-compiler:$PATH" CC=false CXX=false npm_install ${without_epoll[@]}
elapsed_ms=$((($(date +%s%N) - started) / 1000000))
echo "install took $((elapsed_ms / 1000)).$((elapsed_ms % 1000 / 100)) s; node_modules: $(du -sh node_modules | cut -f1)"

# npm 11 skips dependencies' install scripts until approved; approved, @pollux/sys's must find the
# prebuilt binary and compile nothing (there is no compiler to compile with).
node -e "const p = require('./package.json'); p.allowScripts = { '@pollux/sys': true }; require('fs').writeFileSync('package.json', JSON.stringify(p))"
PATH="$work/no-compiler:$PATH" CC=false CXX=false npm rebuild --loglevel=error @pollux/sys >/dev/null
test ! -e node_modules/@pollux/sys/build || { echo "the install script compiled instead of using the prebuilt addon" >&2; exit 1; }

echo "-- without a loadable binary, importing pollux says what to do"
mv node_modules/@pollux/sys/prebuilds "$work/prebuilds"
node --input-type=module -e "
try { await import('pollux'); process.exit(1); }
catch (error) { console.log(error.code + ': ' + error.message); process.exit(error.code === 'ENOENT' && /approve/.test(error.message) ? 0 : 1); }" | fold -s -w 100
mv "$work/prebuilds" node_modules/@pollux/sys/prebuilds
prebuilt_file=$(ls node_modules/@pollux/sys/prebuilds/linux-x64/*.node)
cp "$prebuilt_file" "$work/prebuilt.node" && echo 'not an ELF file' >"$prebuilt_file"
node --input-type=module -e "
try { await import('pollux'); process.exit(1); }
catch (error) { console.log(error.code + ': ' + error.message); process.exit(error.code === 'ELIBACC' ? 0 : 1); }" | fold -s -w 100
cp "$work/prebuilt.node" "$prebuilt_file"

echo "-- the README's fifteen lines, saved as kv.mjs: node kv.mjs"
cp "$repo/examples/readme/kv.mjs" kv.mjs
node kv.mjs | tee kv.out
grep -qx 42 kv.out

echo "-- importing pollux loads no CommonJS module but the native addon"
# CommonJS loaded from an ES module made Node's path helpers hot enough for V8 to compile them
# with TurboFan at start-up, which faults ~4 MiB of the compiler's code into every server.
node --input-type=module -e "
import { createRequire } from 'node:module';
await import('pollux');
const loaded = Object.keys(createRequire(import.meta.url).cache);
console.log('  CommonJS modules loaded: ' + loaded.map((file) => file.slice(file.lastIndexOf('node_modules/'))).join(', '));
process.exit(loaded.length === 1 && loaded[0].endsWith('.node') ? 0 : 1);"
node --input-type=module -e "
import { createServer } from 'pollux';
const server = createServer();
await server.listen('$work/pollux.sock');
console.log('  RSS of a process with a pollux server listening: ' + (process.memoryUsage().rss / 1048576).toFixed(1) + ' MiB');
await server.close();"
node --input-type=module -e "
import { once } from 'node:events';
import { createServer } from 'node:net';
const server = createServer().listen('$work/net.sock');
await once(server, 'listening');
console.log('  the same with a bare node:net server: ' + (process.memoryUsage().rss / 1048576).toFixed(1) + ' MiB');
server.close();"

echo "-- CommonJS: node require.cjs"
cp "$repo/test/consumer/require.cjs" .
node require.cjs

echo "-- the inspector from @pollux/cli: pollux --help"
./node_modules/.bin/pollux --help | head -n 3

echo "-- TypeScript consumer (consumer.ts and kv.mjs with checkJs) under each resolution"
cp "$repo/test/consumer/consumer.ts" .
for resolution in nodenext node16 bundler; do
  module=$([ "$resolution" = bundler ] && echo esnext || echo "$resolution")
  cat >tsconfig.json <<JSON
{
  "compilerOptions": {
    "target": "ES2022", "module": "$module", "moduleResolution": "$resolution", "strict": true,
    "noEmit": true, "allowJs": true, "checkJs": true, "skipLibCheck": false,
    "types": ["node"], "typeRoots": ["$repo/node_modules/@types"]
  },
  "files": ["consumer.ts", "kv.mjs"]
}
JSON
  "$repo/node_modules/.bin/tsc" -p tsconfig.json
  echo "  $resolution: ok"
done

echo "-- @pollux/poll-epoll: its epoll dependency compiles from source (compiler back, scripts approved)"
node -e "const p = require('./package.json'); p.allowScripts = { '@pollux/sys': true, epoll: true }; require('fs').writeFileSync('package.json', JSON.stringify(p))"
npm_install "$work"/tarballs/pollux-poll-epoll-*.tgz >/dev/null
node --input-type=module -e "
import { EpollPoller } from '@pollux/poll-epoll';
import { Ready } from 'pollux';
import { close, socketpair, writev } from '@pollux/sys';
const poller = new EpollPoller();
const [a, b] = socketpair();
poller.add(a, Ready.Readable, () => { poller.remove(a); close(a); close(b); console.log('EpollPoller: readable'); });
writev(b, [Buffer.from('x')], 1);"
echo "consumer test: ok"
