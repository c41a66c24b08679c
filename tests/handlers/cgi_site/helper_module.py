VALUE = "from beside the script"
