// Plain JavaScript on purpose: it runs before anything else, on whatever Node the user has,
// while the project's TypeScript sources need Node 24 (type stripping, node:sqlite).
const major = Number(process.versions.node.split('.')[0]);
if (major < 24) {
  console.error(
    `This project needs Node.js 24 or newer; this is Node ${process.versions.node}. Install Node 24 (for example \`npm install --prefix ~/.node24 node@24\` and put ~/.node24/node_modules/.bin first on PATH), then run the command again.`,
  );
  process.exit(1);
}
