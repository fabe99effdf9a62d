"""Operations around the core: the run loop and its schedule (`scheduler`), `doctor`,
`backup`, and the demo set-up. Each calls the other packages; none of them is called by them.
"""
