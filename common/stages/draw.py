"""A PNG drawing of an architecture (spaces that can draw: DARTS cells, MobileNet layers).

    ... draw --arch ARCH --out FILE.png
"""
from __future__ import annotations


from ..cli import ArgumentParser, headed, output_file
from ..errors import UserError
from ..space import SearchSpace


def main(space: SearchSpace, argv, prog: str) -> None:
    parser = ArgumentParser(prog=prog, description=headed(f"Draw a {space.title} architecture as a PNG", __doc__))
    parser.add_argument("--arch", required=True, help=space.arch_help)
    parser.add_argument("--out", required=True, help="PNG file to write")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    args = parser.parse_args(space.canonical_argv(argv))
    if not space.can_draw:
        raise UserError(f"the {space.title} space cannot draw architectures")
    if not args.out.lower().endswith(".png"):
        raise UserError("--out must name a .png file")
    out = output_file(args.out, "--out")
    space.draw(space.parse_arch(args.arch), out)
    print(args.out)
