from twinbench_cli import main

main()
