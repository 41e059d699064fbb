print("swbridge")
