/**
 * The entries of @ethereumjs/devp2p 10.0.0's test/testdata.ts that the DPT
 * suite uses: an ENR (a signed record of a mainnet node) and the
 * enrtree:// URL of upstream's example tree.
 */
export const testData = {
  dns: {
    enr: 'enr:-Je4QA1w6JNgH44256YxSTujRYIIy-oeCzL3tIvCIIHEZ_HgWbbFlrtfghWaGKQA9PH2INlnOGiKAU66hhVEoocrZdo0g2V0aMfGhOAp6ZGAgmlkgnY0gmlwhChxb4eJc2VjcDI1NmsxoQMla1-eA4bdHAeDEGv_z115bE16iA4GxcbGd-OlmKnSpYN0Y3CCdl-DdWRwgnZf',
    enrTree: 'enrtree://AKA3AM6LPBYEUDMVNU3BSVQJ5AD45Y7YPOHJLEF6W26QOE4VTUDPE@nodes.example.org',
  },
};
