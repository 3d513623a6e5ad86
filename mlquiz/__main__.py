from mlquiz.cli import main

main()
