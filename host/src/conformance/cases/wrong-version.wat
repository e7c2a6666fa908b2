;; Exports the tokenwatch interfaces at a version the host does not serve.
;;@ version
0.3.0
