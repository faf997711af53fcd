"""Opinion words for the offline extractor: what signals like, dislike, a wish, a hedge.

Kept apart from the algorithm so a reader can check (and extend) the word lists without reading
the parser. Everything is lower case; multi-word cues are space separated.
"""

from __future__ import annotations

# fmt: off
# Cues that point forward at what follows: "I love the teal", "hate the clutter".
LIKE_CUES = (
    "love", "loved", "loving", "loves", "like", "liked", "likes", "enjoy", "enjoyed", "enjoying",
    "adore", "adored", "appreciate", "dig", "fan of", "big fan of", "drawn to", "prefer",
    "admire", "obsessed with", "into the", "favorite", "favourite", "want more", "more of",
    "i am into", "been into", "am into", "are into", "really into", "crave", "keen on",
    "crazy about", "impressed by", "gives me life", "keep the", "care for",
    "can not get enough of", "not against", "do not mind", "no complaints about",
    "no complaints with",
)
DISLIKE_CUES = (
    "hate", "hated", "hates", "dislike", "disliked", "dislikes", "detest", "loathe",
    "can not stand", "cannot stand", "tired of", "sick of", "no more", "less", "fewer",
    "rid of", "too much", "too many", "over the top", "turned off by", "put off by",
    "bothered by", "annoyed by", "distracted by", "not for me", "lose the", "ditch the",
    "tone down", "tone it down", "dial down", "dial back", "get rid of", "has to go",
    "have to go", "needs to go", "need to go", "must go",
    "sadly", "unfortunately", "shame about", "shame the", "a shame", "pity about",
    "less sure about", "not sure about", "not convinced by", "not sold on",
)
# Evaluations that usually follow what they judge: "the palette is gorgeous".
POSITIVE_WORDS = (
    "beautiful", "gorgeous", "stunning", "lovely", "great", "nice", "amazing", "awesome",
    "wonderful", "fantastic", "perfect", "pleasing", "pretty", "excellent", "brilliant",
    "superb", "captivating", "cool", "charming", "delightful", "incredible", "fabulous",
    "good", "best", "works", "work", "working", "pops", "pop", "shines", "sings", "appealing",
    "impressive", "exquisite", "wow", "draws me in", "speaks to me", "favorite part",
    "well done", "spot on", "on point", "breathtaking", "magnificent", "elegant", "refreshing",
    "inviting", "mesmerizing", "mesmerising", "beautifully", "nicely", "love it", "like it",
    "cute", "adorable", "fun", "does it for me", "works for me", "my thing", "my cup of tea",
    # idioms and praise through nouns ("a joy", "a masterclass")
    "right up my alley", "right up my street", "steals the show", "star of the show",
    "carries it", "here for it", "no notes", "yes please", "a winner", "grabs me", "grab me",
    "a joy", "a dream", "a treat", "a masterclass", "a masterpiece", "a triumph", "a delight",
    "a highlight", "the best part", "the best bit", "a real treat", "a nice touch",
    "no complaints", "no complaints here", "exactly what i wanted", "exactly what i want",
    "just right", "exactly right", "spot-on",
    "triumph", "masterpiece", "masterclass",
    "the highlight", "real highlight", "helps", "adds character", "adds some character",
    "gives it character", "in a good way", "in a nice way", "my kind of",
    "adds charm", "adds some charm", "adds a lot of charm", "part of the charm", "adds depth",
    "adds life", "brings it to life", "gives it life", "suits", "suits it", "fits the mood",
    "really makes it", "what makes it", "makes the photo", "makes the image", "makes the picture",
    "sells it", "what sells it", "gives it energy", "gives it some energy", "gives it movement",
    "gives it depth",
    # praise of the making: "real skill in the cross-hatching"
    "skill in", "real skill in", "craft in", "real craft in", "craftsmanship in", "care in",
)
NEGATIVE_WORDS = (
    "ugly", "awful", "terrible", "horrible", "bad", "boring", "bored", "annoying", "distracting",
    "bothers", "bother", "bothering", "irritating", "overwhelming", "jarring", "unpleasant",
    "hideous", "weird", "off-putting", "offputting", "ruins", "ruin", "ruined", "spoils",
    "hurting", "hurting my eyes", "hurts my eyes",
    "kills", "hurts", "clashes", "clash", "clashing", "cheap", "tacky", "overdone", "overkill",
    "confusing", "lifeless", "sloppy", "worst", "gross", "dislike it", "hate it", "not for me",
    "unappealing", "disappointing", "lazy", "amateurish", "bland", "fails", "too much",
    "a little much", "a bit much", "turns me off", "hard to look at", "mess", "a mess",
    "eyesore", "dirty", "do not do anything for me", "does not do anything for me",
    "does nothing for me", "do nothing for me", "not my thing", "not my cup of tea",
    "leaves me cold", "left me cold", "falls flat", "feels cheap", "looks cheap", "looks off",
    "feels off", "seems off", "is off", "painful", "headache", "nauseating", "creeps me out",
    "done to death", "makes my head spin", "eyes swim", "a letdown", "a disaster", "overrated",
    "overpowering", "a problem", "an issue", "not so much", "not really", "hard to see",
    "hard to read", "in a bad way",
    "dealbreaker", "deal breaker", "deal-breaker", "a mistake", "made a mistake",
    "drives me up the wall", "drives me crazy", "drives me mad",
    "falls down", "let down by", "lets it down", "let it down", "does it no favours",
    "unnecessary", "not needed", "pointless", "superfluous",
)
# An opinion that is no opinion: "meh, it's fine".
NEUTRAL_WORDS = (
    "no strong opinion", "no strong opinions", "no strong feelings", "no opinion either way",
    "have no opinion", "do not have an opinion", "no feelings", "no preference",
    "meh", "whatever", "so-so", "average", "no opinion",
    "not sure", "dunno", "no idea", "indifferent", "neutral", "nothing special", "i guess",
)
# A lukewarm yes: "the pink is okay" is a like, and a weak one.
OKAY_WORDS = ("okay", "ok", "fine", "alright", "decent", "passable", "acceptable")
# Words that make a verdict strong: "love" and "gorgeous" outweigh "like" and "nice".
STRONG_WORDS = frozenset((
    "love", "loved", "loves", "adore", "adored", "gorgeous", "stunning", "amazing", "perfect",
    "breathtaking", "incredible", "favorite", "favourite", "hate", "hated", "detest", "loathe",
    "masterpiece", "magnificent", "exquisite", "absolutely", "obsessed", "fantastic", "unreal",
    "love it", "masterclass", "a masterclass", "a masterpiece", "masterstroke", "triumph",
    "a triumph", "genius", "poetry", "miracle", "a joy", "a delight", "a real treat",
))
# Sarcasm: a sentence with one of these says the opposite of its praise.
SARCASM_MARKERS = (
    "just what every", "just what i wanted", "just what i needed", "how original", "how fresh",
    "how creative", "how novel", "how unexpected", "oh great", "oh wonderful", "oh joy",
    "oh good", "ah yes", "very subtle", "so subtle", "revolutionary", "groundbreaking",
    "yet another", "overrated apparently", "said no one", "never seen that before",
    "because subtle", "what could go wrong", "oh sure", "very brave", "how brave",
    "how profound", "how deeply profound", "exactly what this needed", "exactly what it needed",
    "just what this needed", "just what it needed", "because everyone loves",
    "because everybody loves", "because what", "really needed was", "what it needed was",
    "what this needed was", "truly subtle", "really subtle", "truly original", "said nobody",
    "nobody ever",
)
# People in the person's life ("my friend says it's too dark", "my cousin's wedding photos"):
# what they think, and what belongs to them, is not a visual feature of the image.
PEOPLE = frozenset((
    "friend", "friends", "partner", "wife", "husband", "mum", "mom", "mother", "dad", "father",
    "nan", "gran", "granny", "grandma", "grandad", "grandpa", "grandmother", "grandfather",
    "sister", "brother", "cousin", "kids", "son", "daughter", "boss", "colleague", "boyfriend",
    "girlfriend", "niece", "nephew", "aunt", "uncle", "flatmate", "roommate", "teacher",
))
OPINION_VERBS = frozenset((
    "says", "said", "thinks", "thought", "reckons", "reckoned", "wants", "wanted", "loves",
    "loved", "hates", "hated", "likes", "liked", "finds", "found", "would", "calls", "called",
))
# An eye roll or "/s" marks the sentence it ends as sarcastic.
SARCASM_SIGNS = ("🙄", "😒", "/s")
# Idioms and fillers that are never features ("at the end of the day", "in a good way").
IDIOM_FILLERS = (
    "at the end of the day", "on the other hand", "that said",
    "even so", "any day", "every time", "next to it", "next to", "not the point",
    "the point", "any time", "at first glance", "on its own",
    "for my taste", "to be honest", "if anything", "up close", "all in all", "so far",
    "i will admit that", "i will give it that", "i will grant it", "in general", "at least",
    "the rest", "the only thing", "first of all", "of course", "a thousand", "than that",
    "at all", "next time", "this time",
)
# Wishes: what is wished for is liked, unless the wish is negated ("I wish it wasn't so dark").
WISH_CUES = (
    "wish", "would be", "would look", "would have been", "could be", "could use", "could have",
    "should be", "should have", "if only", "would prefer", "would love", "would like",
    "needs", "need", "want", "would be awesome", "would be better", "would be nicer",
    "i'd love", "i'd like", "i'd prefer", "prefer it", "if it had", "if there were",
    "not enough", "i'd add", "would add", "add some", "add more", "make it", "make the",
    # a preference with no "than": "I'd rather have that cool moonlight everywhere"
    "i'd rather", "would rather", "i'd have preferred", "would have preferred", "rather see",
    "rather have", "rather the", "rather go for", "rather be",
)
NEGATIONS = ("not", "no", "never", "nothing", "hardly", "neither", "nor", "without", "barely",
             "zero")
HEDGES = (
    "maybe", "perhaps", "kind of", "kinda", "sort of", "somewhat", "slightly", "a bit",
    "a touch",
    "a little", "probably", "i think", "not sure", "a tad", "mildly", "fairly", "i suppose",
)
INTENSIFIERS = (
    "really", "so", "very", "absolutely", "totally", "truly", "super", "extremely",
    "incredibly", "deeply", "utterly", "completely", "especially", "particularly", "insanely",
    "absolute", "total", "real",
)
CONTRAST_WORDS = ("but", "though", "although", "however", "whereas", "yet", "except", "while")

# Words that never belong in an attribute phrase (function words, deictics, copulas).
STOPWORDS = frozenset((
    "a", "an", "the", "this", "that", "these", "those", "it", "its", "it's", "i", "me", "my",
    "mine", "we", "our", "you", "your", "he", "she", "they", "them", "is", "are", "was", "were",
    "be", "been", "being", "am", "do", "does", "did", "done", "have", "has", "had", "having",
    "will", "would", "could", "should", "can", "may", "might", "must", "shall", "to", "of",
    "in", "on", "at", "by", "for", "from", "with", "about", "as", "into", "onto", "over",
    "under", "than", "then", "there", "here", "where", "when", "what", "which", "who", "whom",
    "whose", "how", "why", "all", "any", "some", "each", "every", "both", "either", "one",
    "ones", "thing", "things", "stuff", "part", "parts", "piece", "image", "images", "picture",
    "pictures", "pic", "artwork", "work", "painting", "paintings", "drawing", "version", "bit",
    "shot", "shots", "render", "renders", "artist", "artists", "painter", "photographer",
    "lot", "lots", "way", "kind", "sort", "type", "use", "sense", "amount", "level", "overall",
    "whole", "general", "generally", "just", "also", "too", "very", "really", "quite", "rather",
    "pretty", "so", "such", "much", "many", "more", "most", "less", "least", "own", "same",
    "other", "another", "again", "even", "still", "only", "look", "looks", "looking", "looked",
    "feel", "feels", "feeling", "felt", "seem", "seems", "seemed", "make", "makes", "made",
    "give", "gives", "gave", "get", "gets", "got", "go", "goes", "going", "think", "thought",
    "find", "found", "see", "saw", "seen", "know", "guess", "say", "said", "and", "or", "nor",
    "if", "because", "since", "while", "until", "unless", "whether", "like", "love", "hate",
    "something", "anything", "everything", "nothing", "someone", "everyone", "here's",
    "there's", "that's", "what's", "please", "thanks", "thank", "hmm", "um", "uh", "oh", "ah",
    "wow", "yeah", "yes", "yep", "nah", "nope", "honestly", "personally", "definitely",
    "actually", "certainly", "literally", "basically", "simply", "kinda", "sorta", "lol",
    "ngl", "tbh", "imo", "imho", "lmao", "fr", "idk",
    "haha", "enough", "together", "everywhere", "somewhere", "anywhere", "though", "apparently",
    "exactly", "usually", "normally", "always", "ever", "almost", "itself", "themselves",
    "beat", "beats", "versus", "vs", "i'd", "i'll", "take", "rather",
    # places and comparisons that are never part of a feature's name
    "against", "behind", "across", "above", "below", "beneath", "near", "around", "inside",
    "outside", "along", "through", "beside", "between", "among", "within", "throughout",
    "after", "before", "remind", "reminds", "reminded", "reminiscent",
    # possessives and pronouns: "their faces" names the faces
    "now", "anymore", "nowadays", "compared", "properly", "his", "her", "hers", "him", "their",
    "theirs", "us", "our", "ours", "whoever",
))

# Sentences that speak to the system instead of about the image: never attributes.
INSTRUCTION_MARKERS = (
    "ignore previous", "ignore all", "ignore the above", "ignore your", "disregard",
    "previous instructions", "prior instructions", "system prompt", "new instructions",
    "you are now", "act as", "pretend to be", "to my likes", "to my dislikes", "to my profile",
    "to the liked", "to the disliked", "output the", "respond with", "print the",
    "add to my", "from my profile", "instructions", "as liked", "as disliked", "as a like",
    "as a dislike", "mark every", "mark all",
)
# A sentence opening with one of these is addressed to the system, not about the image.
INSTRUCTION_OPENERS = ("ignore", "disregard", "forget", "output", "print", "respond", "return",
                       "pretend", "mark", "system", "assistant", "developer", "override")
# These open an instruction only when the sentence also talks about the stored preferences.
EDIT_OPENERS = ("add", "remove", "delete", "set", "store", "save", "put", "change")
PROFILE_WORDS = ("like", "likes", "liked", "dislike", "dislikes", "disliked", "profile",
                 "preferences", "list", "memory", "database")

# Function words of languages the offline extractor cannot read: a comment full of them gets a
# clear "please write in English" instead of made-up attributes.
FOREIGN_MARKERS = frozenset((
    "le", "la", "les", "des", "est", "une", "un", "et", "mais", "très", "trop", "j'adore", "je",
    "n'aime", "pas", "du", "au", "aux", "sont", "c'est", "el", "los", "las", "es", "muy",
    "pero", "encanta", "encantan", "gusta", "colores", "demasiado", "der", "das", "und", "ist",
    "nicht", "sehr", "aber", "ich", "mag", "zu", "viel", "farben", "il", "lo", "gli", "è", "mi",
    "piace", "colori", "molto", "troppo", "é", "não", "muito", "mas", "eu", "gosto", "cores",
))

# Loaded adjectives that carry a verdict on their own when nothing else in the clause does.
NEGATIVE_VALENCE = frozenset((
    "cluttered", "messy", "busy", "crowded", "overcrowded", "chaotic", "muddy", "garish", "harsh",
    "blurry", "blurred", "overexposed", "underexposed", "pixelated", "plasticky", "lifeless",
    "sterile", "flat", "dull", "washed-out", "oversaturated", "gloomy", "noisy", "cartoonish",
    "fussy", "overdetailed", "bleak", "depressing", "creepy", "unbalanced", "cheap", "tacky",
    "sloppy", "confusing", "overdone", "dreary", "drab", "murky", "grainy",
    "oddly", "weirdly", "strangely", "awkwardly", "clumsily", "badly",
))
POSITIVE_VALENCE = frozenset((
    "vibrant", "harmonious", "balanced", "elegant", "serene", "peaceful", "dreamy", "ethereal",
    "luminous", "radiant", "crisp", "intricate", "cozy", "cosy", "tranquil", "calming",
    "soothing", "whimsical", "magical",
))
# fmt: on
