// Builds the dashboard into web/dist: one JavaScript bundle (Chart.js included, no CDN), the CSS,
// the page and the icon. Run by scripts/bootstrap.sh (`npm run build:web`); the C++ build embeds
// web/dist into the binary (cmake/embed_dir.cmake).
import { build } from "esbuild";
import { copyFileSync, mkdirSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, "dist");
rmSync(dist, { recursive: true, force: true });
mkdirSync(join(dist, "assets"), { recursive: true });
await build({
  entryPoints: [join(here, "src", "app.js")],
  bundle: true,
  minify: true,
  format: "esm",
  target: ["es2020"],
  outfile: join(dist, "assets", "app.js"),
  legalComments: "eof",
  logLevel: "warning",
});
copyFileSync(join(here, "src", "index.html"), join(dist, "index.html"));
copyFileSync(join(here, "src", "app.css"), join(dist, "assets", "app.css"));
copyFileSync(join(here, "src", "favicon.svg"), join(dist, "assets", "favicon.svg"));
