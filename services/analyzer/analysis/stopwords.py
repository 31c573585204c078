"""Small built-in stopword lists (function words and very common verbs) for keyword scoring.

Hand-written and deliberately short: they only have to stop "of the" or "dans les" from
becoming a topic. Unknown languages get the union of all lists, which is safe because a word
that is a function word in one of these languages is rarely a good topic in another.
"""

from __future__ import annotations

from functools import cache


def _word_set(words: str) -> frozenset[str]:
    return frozenset(words.split())


_EN = _word_set("""
a about above after again against all almost also although always am among an and another any
anyone anything are around as at be became because become been before being below between both
but by can cannot could did do does doing done down during each either else etc even ever every
few for from further get gets given go had has have having he her here hers herself him himself
his how however i if in including into is it its itself just least less like made make many may
me might more most much must my myself near need neither no nor not now of off often on once one
only or other others otherwise our ours ourselves out over own per perhaps please rather really
same see seen shall she should since so some such than that the their theirs them themselves then
there therefore these they this those though through thus to too toward towards under unless
until up upon us use used uses using very via was we well were what whatever when where whereas
whether which while who whom whose why will with within without would yet you your yours
yourself yourselves able according across already anyway based following include includes
included important information new provide provided provides related

""")

_FR = _word_set("""
à afin ai aie aient ainsi alors as au aucun aucune audit aupres auquel aura aurai auraient aurait
auras aurez auront autre autres aux auxquels avaient avais avait avant avec avez avoir avons
bien c ca car ce ceci cela celle celles celui cependant certain certaines certains ces cet cette
ceux chacun chaque chez ci comme comment d dans de des desquels deux devant doit donc dont du
duquel durant dès elle elles en encore entre es est et étaient étais était étant été être eu eux
faire fait faut fois font hors il ils j je jusqu jusque l la laquelle le lequel les lesquels leur
leurs lors lorsque lui m ma mais me même mêmes mes moi moins mon n ne ni non nos notre nous on
ont ou où par parce parmi pas peu peut peuvent plus plusieurs pour pourquoi pourrait qu quand que
quel quelle quelles quels qui quoi s sa sans se selon ses si sien sinon soit son sont sous sur
ta te tel telle telles tels tes toi ton tous tout toute toutes très tu un une vers via voici
voilà vos votre vous y ça afin aussi autant déjà ici puis sera seront serait devrait
devraient doivent pourrait pourraient permet permettre
""")

_DE = _word_set("""
aber alle allem allen aller alles als also am an ander andere anderen anderer anderes auch auf
aus bei beim bin bis bist da dabei damit dann das dass dein deine dem den denn der deren des
dessen deshalb die dies diese diesem diesen dieser dieses doch dort du durch ein eine einem
einen einer eines einige einigen er es etwa euer eure für gegen gewesen hab habe haben hat hatte
hatten hier hin hinter ich ihm ihn ihnen ihr ihre ihrem ihren ihrer ihres im in indem ins ist
jede jedem jeden jeder jedes jedoch jene jenem jenen jener jenes kann kein keine keinem keinen
keiner können könnte machen man manche mehr mein meine mit muss musste nach nicht nichts noch
nun nur ob oder ohne sehr sein seine seinem seinen seiner seit sich sie sind so solche soll
sollte sondern sowie über um und uns unser unsere unter viel vom von vor wann war waren warum
was weil welche welchem welchen welcher welches wenn wer werde werden wie wieder will wir wird
wo wurde wurden zu zum zur zwar zwischen
""")

_ES = _word_set("""
a al algo algunas algunos ante antes como con contra cual cuales cuando de del desde donde dos
el él ella ellas ellos en entre era eran es esa esas ese eso esos esta está están estas este
esto estos fue fueron ha había habían han hasta hay la las le les lo los más me mi mis mucho
muy nada ni no nos nosotros o otra otras otro otros para pero poco por porque puede pueden que
qué quien quienes se sea ser si sí sin sino sobre su sus también tan tanto te tiene tienen
todo todos tu tus un una unas uno unos usted ustedes y ya cada durante mediante según será
sido siendo sus tras
""")

_LISTS: dict[str, frozenset[str]] = {
    "en": _EN,
    "fr": _FR,
    "de": _DE,
    "es": _ES,
}


@cache
def stopwords_for(language: str | None) -> frozenset[str]:
    """Stopwords for ``language`` plus English (documents often quote English terms)."""
    if language in _LISTS:
        return _LISTS[language] | _LISTS["en"]
    return frozenset().union(*_LISTS.values())


def supported_languages() -> frozenset[str]:
    return frozenset(_LISTS)
