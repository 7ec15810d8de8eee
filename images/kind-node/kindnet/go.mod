module statebench.local/kind-node/kindnet

go 1.24
