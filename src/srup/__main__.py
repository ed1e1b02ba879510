from srup.cli import main

main()
