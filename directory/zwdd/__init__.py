"""The 浙政钉 directory sync: walk the platform's organisations and employees, turn them into
the import's rows, and apply them with the same engine (docs/directory.md)."""
