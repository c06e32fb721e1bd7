using System.Buffers.Binary;
using System.Reflection.Metadata;
using System.Reflection.Metadata.Ecma335;
using System.Reflection.PortableExecutable;

namespace Vmm.Tests.Infrastructure;

/// <summary>
/// A copy of a built test plugin whose reference to Vmm.Abstractions names another version, as if it had been compiled
/// against that version: the AssemblyRef row's version fields are rewritten in place (ECMA-335 II.22.5), nothing else changes.
/// </summary>
internal static class RetargetedPlugin
{
    public static string Write(string builtPlugin, string directory, Version abstractionsVersion)
    {
        Directory.CreateDirectory(directory);
        var bytes = File.ReadAllBytes(builtPlugin);
        using (var pe = new PEReader(new MemoryStream(bytes)))
        {
            var metadata = pe.GetMetadataReader();
            var handle = metadata.AssemblyReferences.Single(h => metadata.GetString(metadata.GetAssemblyReference(h).Name) == "Vmm.Abstractions");
            var row = MetadataTokens.GetRowNumber(handle);
            var offset = pe.PEHeaders.MetadataStartOffset + metadata.GetTableMetadataOffset(TableIndex.AssemblyRef) + (row - 1) * metadata.GetTableRowSize(TableIndex.AssemblyRef);
            ushort[] fields = [(ushort)abstractionsVersion.Major, (ushort)abstractionsVersion.Minor, (ushort)Math.Max(0, abstractionsVersion.Build), (ushort)Math.Max(0, abstractionsVersion.Revision)];
            for (var i = 0; i < fields.Length; i++) BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(offset + 2 * i), fields[i]);
        }
        var target = Path.Combine(directory, Path.GetFileName(builtPlugin));
        File.WriteAllBytes(target, bytes);
        foreach (var sibling in new[] { ".deps.json", ".runtimeconfig.json" })
        {
            var source = Path.ChangeExtension(builtPlugin, null) + sibling;
            if (File.Exists(source)) File.Copy(source, Path.ChangeExtension(target, null) + sibling, overwrite: true);
        }
        return target;
    }
}
