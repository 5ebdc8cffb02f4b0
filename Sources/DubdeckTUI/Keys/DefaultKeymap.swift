/// The built-in keymap; keymaps/default.keys is the same text (a test keeps them equal).
public enum DefaultKeymap {
    public static let text = """
# dubdeck default keymap (built into the binary; this file is a copy to start your own from).
# Syntax: bind <context> <key> <action>     Contexts: generic list editor characters history help picker
# Load your own in $XDG_CONFIG_HOME/dubdeck/keys or with --keymap FILE; later bindings win.

bind generic q quit
bind generic ? help
bind generic <F1> help
bind generic <C-l> redraw

bind list j move-down
bind list <Down> move-down
bind list k move-up
bind list <Up> move-up
bind list <PgDn> page-down
bind list <C-f> page-down
bind list <Space> page-down
bind list <PgUp> page-up
bind list <C-b> page-up
bind list g top
bind list <Home> top
bind list G bottom
bind list <End> bottom
bind list ] next-problem
bind list <Tab> next-unapproved
bind list [ prev-problem
bind list <S-Tab> prev-unapproved
bind list : goto-line
bind list w set-speaker
bind list W assign-character
bind list I suggest-character
bind list e edit
bind list <Enter> edit
bind list a approve
bind list A approve-next
bind list L lock
bind list r flag-retranslate
bind list R retranslate
bind list <lt> nudge-start-earlier
bind list > nudge-start-later
bind list , nudge-end-earlier
bind list . nudge-end-later
bind list <M-lt> nudge-start-earlier-fine
bind list <M->> nudge-start-later-fine
bind list <M-,> nudge-end-earlier-fine
bind list <M-.> nudge-end-later-fine
bind list s synthesize
bind list S synthesize-approved
bind list X cancel-batch
bind list p play-take
bind list o play-original
bind list P play-previous-take
bind list x stop-playback
bind list c play-context
bind list b play-ab
bind list K keep-take
bind list u undo
bind list <C-r> redo
bind list h history
bind list C characters
bind list / search
bind list n search-next
bind list N search-prev
bind list f filter-next
bind list F filter-prev
bind list 0 filter-all

bind editor <Enter> commit
bind editor <Esc> cancel
bind editor <C-g> cancel
bind editor <Left> cursor-left
bind editor <Right> cursor-right
bind editor <M-b> word-left
bind editor <M-f> word-right
bind editor <Home> line-start
bind editor <C-a> line-start
bind editor <End> line-end
bind editor <C-e> line-end
bind editor <BS> delete-back
bind editor <Del> delete-forward
bind editor <C-d> delete-forward
bind editor <C-w> delete-word-back
bind editor <C-k> kill-line
bind editor <C-u> kill-to-start
bind editor <C-j> insert-newline

bind characters j move-down
bind characters <Down> move-down
bind characters k move-up
bind characters <Up> move-up
bind characters g top
bind characters G bottom
bind characters <Tab> series-next
bind characters p play-reference
bind characters R rename-character
bind characters m merge-character
bind characters u use-line-audio
bind characters U undo-merge
bind characters c reconcile
bind characters a accept-proposal
bind characters x reject-proposal
bind characters q back
bind characters <Esc> back

bind history j move-down
bind history <Down> move-down
bind history k move-up
bind history <Up> move-up
bind history g top
bind history G bottom
bind history <Enter> restore-version
bind history q back
bind history <Esc> back

bind help j move-down
bind help <Down> move-down
bind help k move-up
bind help <Up> move-up
bind help <PgDn> page-down
bind help <Space> page-down
bind help <PgUp> page-up
bind help g top
bind help G bottom
bind help q back
bind help <Esc> back
bind help ? back

bind picker j move-down
bind picker <Down> move-down
bind picker k move-up
bind picker <Up> move-up
bind picker g top
bind picker G bottom
bind picker <Enter> pick
bind picker q back
bind picker <Esc> back

"""
}
