from logyard.cli import main

main()
