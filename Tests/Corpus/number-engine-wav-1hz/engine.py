import struct,sys
d=b'\0'*64
open(sys.argv[1],'wb').write(b'RIFF'+struct.pack('<I',36+len(d))+b'WAVEfmt '+struct.pack('<IHHIIHH',16,1,1,1,2,2,16)+b'data'+struct.pack('<I',len(d))+d)
