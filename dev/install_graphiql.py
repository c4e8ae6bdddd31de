"""Fetch the scripts and styles of Strawberry's GraphiQL page from the npm registry into the cache.

Strawberry's page loads React, GraphiQL and its explorer plugin from unpkg.com, so opening GraphiQL
on `make run` made the developer's browser fetch code from the internet. The dev service serves these
files itself (`graphql_api/server/graphiql.py`) from `$GXRTC_CACHE_DIR/graphiql` (default
~/.cache/gxrtc/graphiql). This script fetches them with `npm pack` (the registry, not the CDN) and
keeps a file only when its hash equals the Subresource Integrity value in Strawberry's page: the very
bytes unpkg would have served. Files already there are checked the same way; `make setup` runs it.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from strawberry.http.ides import get_graphql_ide_html

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from graphql_api.server.graphiql import CDN_ASSET, matches_integrity
from graphql_api.settings import default_cache_dir


def main() -> int:
    target_root = default_cache_dir() / "graphiql"
    page = get_graphql_ide_html(graphql_ide="graphiql")
    assets = CDN_ASSET.findall(page)
    if not assets:
        print("no unpkg.com assets in Strawberry's GraphiQL page: nothing to fetch", file=sys.stderr)
        return 1
    missing = []
    for package, version, path, integrity in assets:
        target = target_root / f"{package}@{version}" / path
        if not (target.is_file() and matches_integrity(target.read_bytes(), integrity)):
            missing.append((package, version, path, integrity, target))
    if not missing:
        return 0
    npm = shutil.which("npm")
    if npm is None:
        print("npm is needed to fetch GraphiQL's assets from the npm registry", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        tarballs: dict[str, Path] = {}
        for package, version, path, integrity, target in missing:
            spec = f"{package}@{version}"
            if spec not in tarballs:
                packed = subprocess.run(
                    [npm, "pack", spec, "--pack-destination", tmp, "--silent"],
                    check=True,
                    capture_output=True,
                    text=True,
                ).stdout.strip()
                tarballs[spec] = Path(tmp, packed.splitlines()[-1])
            with tarfile.open(tarballs[spec]) as archive:
                member = archive.extractfile(f"package/{path}")
                if member is None:
                    print(f"{spec} has no {path}", file=sys.stderr)
                    return 1
                data = member.read()
            if not matches_integrity(data, integrity):
                print(f"{spec}/{path} does not match the page's integrity {integrity}", file=sys.stderr)
                return 1
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_name(target.name + ".partial")
            partial.write_bytes(data)
            partial.replace(target)
            print(f"{spec}/{path}: {len(data):,} bytes, integrity ok")
    print(f"GraphiQL's assets are in {target_root}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
