"""Sign-in: 浙政钉 (scan, embedded QR, in-app), and the rules that link an identity to a
cadre of the directory (never creating one). Layered above notifications (codes by SMS)."""
