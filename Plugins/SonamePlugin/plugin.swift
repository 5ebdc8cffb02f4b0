import PackagePlugin

/// Writes Sonames.swift into the target it is applied to (DubdeckBase): the shared objects this
/// build's development packages name (soname-probe: pkg-config, then each library's ELF SONAME),
/// so that CLazyLibs opens at run time exactly what the headers it was compiled with belong to.
@main
struct SonamePlugin: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let output = context.pluginWorkDirectoryURL.appending(path: "Sonames.swift")
        return [
            .buildCommand(displayName: "Finding the sonames of the libraries opened on first use",
                          executable: try context.tool(named: "soname-probe").url,
                          arguments: [output.path], inputFiles: [], outputFiles: [output]),
        ]
    }
}
