"""Misbehaves on purpose, as `mode` says: "spin" burns CPU forever, "allocate" asks for `gigabytes`
of memory at once, "print" writes `lines` lines; anything else returns at once."""


def main(app_config=None, mode="", gigabytes=3, lines=0):
    if mode == "spin":
        x = 0
        while True:
            x += 1
    if mode == "allocate":
        block = bytearray(int(gigabytes * (1 << 30)))
        return {"allocated": len(block)}
    for i in range(lines):
        print(f"line {i}")
    return {"mode": mode}
