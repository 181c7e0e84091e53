from keras_vae.cli import main

main()
