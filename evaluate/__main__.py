from evaluate.app import main

main()
