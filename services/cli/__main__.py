from services.cli.root import main

main()
