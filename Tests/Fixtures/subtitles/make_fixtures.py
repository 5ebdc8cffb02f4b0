#!/usr/bin/env python3
"""Writes the subtitle fixtures: one small file per class of real-world trouble (written here, not
copied from any project). Run once; the files are committed and the tests read them."""
import os

HERE = os.path.dirname(os.path.abspath(__file__))


def write(name, text, encoding="utf-8", bom=b"", newline="\n"):
    data = text.replace("\n", newline).encode(encoding)
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(bom + data)


RU = "1\n00:00:01,000 --> 00:00:03,000\nПривет, как дела?\n\n2\n00:00:04,000 --> 00:00:06,500\nВсё хорошо, спасибо. Ещё увидимся!\n\n3\n00:00:07,000 --> 00:00:09,000\nЭто наш последний шанс, друзья.\n"
CZ = "1\n00:00:01,000 --> 00:00:03,000\nDobrý den, jak se máte?\n\n2\n00:00:04,000 --> 00:00:06,000\nŽluťoučký kůň úpěl ďábelské ódy.\n\n3\n00:00:07,000 --> 00:00:09,000\nPříliš žluťoučký kůň, řekl strýček.\n"
FR = "1\n00:00:01,000 --> 00:00:03,000\nÇa va très bien, merci beaucoup.\n\n2\n00:00:04,000 --> 00:00:06,000\nOù est la bibliothèque, s'il vous plaît ?\n\n3\n00:00:07,000 --> 00:00:09,000\nL'été dernier, nous étions à Noël chez ma sœur.\n"
ZH = "1\n00:00:01,000 --> 00:00:03,000\n你好，我们今天去哪里吃饭？\n\n2\n00:00:04,000 --> 00:00:06,000\n我不知道，你决定吧。这家饭店很有名。\n\n3\n00:00:07,000 --> 00:00:09,000\n好的，我们现在就出发吧，朋友们都在等。\n"
JA = "1\n00:00:01,000 --> 00:00:03,000\n俺は海賊王になる男だ！\n\n2\n00:00:04,000 --> 00:00:06,000\n仲間を守るために戦う。\n"

write("enc-utf16le-bom.srt", JA, "utf-16-le", b"\xff\xfe")
write("enc-utf16be-bom.srt", JA, "utf-16-be", b"\xfe\xff", newline="\r\n")
write("enc-utf32le-bom.srt", JA, "utf-32-le", b"\xff\xfe\x00\x00")
write("enc-utf8-bom.srt", JA, "utf-8", b"\xef\xbb\xbf")
write("enc-cp1251.srt", RU, "cp1251")
write("enc-cp1250.srt", CZ, "cp1250", newline="\r\n")
write("enc-cp1252.srt", FR, "cp1252")
write("enc-gb2312.srt", ZH, "gb2312")

# WebVTT as players meet it: header lines, NOTE/STYLE/REGION blocks, ids, voices with classes,
# cues without blank lines between them, a region setting.
write("vtt-headers.vtt", """WEBVTT - with a header
X-TIMESTAMP-MAP=MPEGTS:900000,LOCAL:00:00:00.000
Kind: captions
Language: en

REGION
id:bottom
width:40%
lines:3

STYLE
::cue(.loud) { font-weight: bold }

NOTE the cues below have ids and voices

intro
00:00:01.000 --> 00:00:02.500 region:bottom align:left
<v.loud Joe>Hello there &amp; welcome!</v>

second
00:00:03.000 --> 00:00:04.000
<v Mary Ann>Two words</v>
<i>and an italic line</i>
00:00:04.500 --> 00:00:05.000
no blank line before this cue
00:00:05.500 --> 00:00:06.000 line:0
<b>top</b> and <00:00:05.700>karaoke
""")
write("vtt-unsorted.webvtt", """WEBVTT

00:00:05.000 --> 00:00:06.000
third in time

00:00:01.000 --> 00:00:02.000
first in time

00:00:03.000 --> 00:00:04.000
second in time
""")

# ASS as fansubbers write it: karaoke templates in Comment lines, attached fonts and graphics,
# Aegisub's sections, a custom section, a drawing, a negative time.
write("ass-full.ass", """[Script Info]
; written by hand for dubdeck's tests
Title: fixture
ScriptType: v4.00+
PlayResX: 1280
PlayResY: 720

[Aegisub Project Garbage]
Audio File: episode.mkv
Video Position: 1234

[V4+ Styles]
Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, Bold, Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, Shadow, Alignment, MarginL, MarginR, MarginV, Encoding
Style: Default,Arial,48,&H00FFFFFF,&H000000FF,&H00000000,&H64000000,0,0,0,0,100,100,0,0,1,2,1,2,60,60,40,1
Style: Karaoke,Arial,40,&H00FFFFFF,&H000000FF,&H00000000,&H64000000,0,0,0,0,100,100,0,0,1,2,1,8,60,60,40,1

[Fonts]
fontname: custom_0.ttf
M1HIO)#$*%_)#$%&*()_+ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdef
ghijklmnopqrstuvwxyz

[Graphics]
filename: logo.png
M1HIO)#$*%_)#$%&*()_+

[Events]
Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text
Comment: 0,0:00:00.00,0:00:00.00,Karaoke,,0,0,0,template syl,{\\pos($x,$y)\\an5}$syl
Dialogue: 0,0:00:01.00,0:00:03.00,Default,Luffy,0,0,0,,{\\an8}I'm going to be {\\i1}king{\\i0} of the pirates!
Dialogue: 0,0:00:04.00,0:00:06.00,Karaoke,,0,0,0,karaoke,{\\k20}ka{\\k30}ra{\\k25}o{\\k40}ke
Dialogue: 0,0:00:04.00,0:00:06.00,Default,,0,0,0,,{\\p1}m 0 0 l 100 0 100 100 0 100{\\p0}
Dialogue: 0,-0:00:01.00,0:00:02.00,Default,,0,0,0,,a negative start
Dialogue: 1,0:00:07.00,0:00:09.00,Default,Zoro,0,0,0,,Where {\\c&H0000FF&}are{\\c} we?\\NNo idea.
Dialogue: 0,0:00:09.50,0:00:10.50,Default,,0,0,0,,{\\k20}ก{\\k20}ั{\\k20}น

[Aegisub Extradata]
Data: 1,_aegi_perspective_ambient_plane,e#3A0.34

[My Custom Section]
anything: goes here
""")

# Tags against combining marks and hearts, a malformed cue among good ones, an arrow typo.
write("srt-tags.srt", """1
00:00:01,000 --> 00:00:02,000
{\\an5}\u0300accent after a block

2
00:00:02,500 --> 00:00:03,500
<i>\u0301x</i> visible

3
00:00:04,000 --> 00:00:05,000
I <3 you > me

4
00:00:05,500 --> 00:00:06,500
<font color="#ff0000">red</font> and {not a tag}
""")
write("srt-malformed.srt", """1
00:00:01,000 --> 00:00:02,000
good one

2
00:00:03,000 -> 00:00:04,000
an arrow typo

3
00:00:05,000 --> 00:00:0x,000
a bad time

4
00:00:07,000 --> 00:00:08,000
good two
""")
print("fixtures written")
