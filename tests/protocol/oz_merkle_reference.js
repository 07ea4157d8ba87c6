// Reference vectors from @openzeppelin/merkle-tree: reads [{types, values}] as JSON on stdin,
// writes [{root, proofs}] (proofs[i] for values[i]) as JSON on stdout.
const { StandardMerkleTree } = require('@openzeppelin/merkle-tree');
let input = '';
process.stdin.on('data', (chunk) => (input += chunk));
process.stdin.on('end', () => {
  const cases = JSON.parse(input);
  const out = cases.map(({ types, values }) => {
    const tree = StandardMerkleTree.of(values, types);
    return { root: tree.root, proofs: values.map((_, i) => tree.getProof(i)) };
  });
  process.stdout.write(JSON.stringify(out));
});
