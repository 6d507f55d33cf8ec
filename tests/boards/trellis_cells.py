"""Hand-made Yosys JSON cells of the ECP5 (TRELLIS_FF, LUT4) for the netlist-pass tests."""

CLK = 2
"""The clock net of the test modules."""


def trellis_ff(d, q, **over):
    """A plain flip-flop as Yosys's ECP5 mapping writes it (D ``d``, Q ``q`` on :data:`CLK`);
    ``over`` changes a pin (``CLK``, ``LSR``, ``CE``, ``DI``, ``Q``) or a parameter."""
    params = {"CEMUX": "1 ", "CLKMUX": "CLK", "GSR": "DISABLED", "LSRMUX": "LSR",
              "REGSET": "RESET", "SRMODE": "LSR_OVER_CE"}
    conns = {"CLK": [CLK], "LSR": ["0"], "DI": [d], "Q": [q]}
    for key, value in over.items():
        (conns if key in conns or key == "CE" else params)[key] = value
    return {"type": "TRELLIS_FF", "parameters": params,
            "port_directions": {"CLK": "input", "LSR": "input", "CE": "input", "DI": "input",
                                "Q": "output"}, "connections": conns}


def lut4(a, z):
    """A LUT reading net ``a`` and driving net ``z``."""
    return {"type": "LUT4", "parameters": {}, "port_directions": {"A": "input", "Z": "output"},
            "connections": {"A": [a], "Z": [z]}}
