"use strict";(self.rspackChunkmedimg_labextension=self.rspackChunkmedimg_labextension||[]).push([[700],{646(e,t,r){var o=r(601),n=r.n(o),a=r(314),i=(r.n(a))()(n());i.push([e.id,`/* medimg course kit panels (JupyterLab theme variables, so light and dark themes both work) */
.medimg-panel {
  padding: 8px 10px;
  overflow: auto;
  font-size: var(--jp-ui-font-size1);
  color: var(--jp-ui-font-color1);
  background: var(--jp-layout-color1);
}
.medimg-panel h2 { font-size: var(--jp-ui-font-size2); margin: 4px 0 8px; }
.medimg-header { display: flex; align-items: center; justify-content: space-between; }
.medimg-meta { color: var(--jp-ui-font-color2); font-size: var(--jp-ui-font-size0); }
.medimg-small { font-size: var(--jp-ui-font-size0); padding: 1px 6px; margin-left: 4px; }
.medimg-lessons { padding-left: 0; list-style: none; margin: 0; }
.medimg-lesson { border-bottom: 1px solid var(--jp-border-color2); padding: 6px 0; }
.medimg-lesson-row, .medimg-assignment { display: flex; justify-content: space-between; gap: 6px; align-items: baseline; }
.medimg-assignment { margin-top: 3px; padding-left: 12px; }
.medimg-lesson-title { font-weight: 600; color: var(--jp-content-link-color); text-decoration: none; }
.medimg-assignment-link { color: var(--jp-content-link-color); text-decoration: none; }
.medimg-objectives summary { cursor: pointer; color: var(--jp-ui-font-color2); font-size: var(--jp-ui-font-size0); }
.medimg-objectives ul { margin: 2px 0 0 0; padding-left: 18px; }
.medimg-badge { white-space: nowrap; border-radius: 8px; padding: 0 6px; font-size: var(--jp-ui-font-size0);
  background: var(--jp-layout-color3); }
.medimg-state-opened { background: #dbe9f8; color: #134; }
.medimg-state-run { background: #fff0c2; color: #540; }
.medimg-state-passed { background: #cdeccd; color: #063; }
.medimg-state-failed { background: #f8d7d7; color: #700; }
.medimg-error { color: var(--jp-error-color1); }
.medimg-pass { color: var(--jp-success-color1); }
.medimg-fail { color: var(--jp-error-color1); }
.medimg-summary { font-weight: 600; }
.medimg-first-hint { background: var(--jp-warn-color3); padding: 4px 6px; border-radius: 4px; }
.medimg-exercises td { padding: 2px 6px; vertical-align: top; }
.medimg-why { color: var(--jp-ui-font-color2); padding-left: 24px !important; }
.medimg-dataset-table { border-collapse: collapse; width: 100%; }
.medimg-dataset-table th, .medimg-dataset-table td { text-align: left; padding: 2px 4px; }
.medimg-dataset { border-top: 1px solid var(--jp-border-color2); }
.medimg-dataset-status progress { width: 70%; }
.medimg-status { cursor: pointer; padding: 0 6px; }
.medimg-status .medimg-warn { color: var(--jp-warn-color1); }
.medimg-env-report pre { font-size: var(--jp-code-font-size); white-space: pre-wrap; }
.medimg-navigator .medimg-empty { color: var(--jp-ui-font-color2); }
.medimg-dataset-name { font-weight: 600; }
.medimg-actions { text-align: right !important; white-space: nowrap; }
.medimg-dataset-line td:empty { padding: 0; }
`,""]),r.d(t,{},{A:i})},314(e){e.exports=function(e){var t=[];return t.toString=function(){return this.map(function(t){var r="",o=void 0!==t[5];return t[4]&&(r+="@supports (".concat(t[4],") {")),t[2]&&(r+="@media ".concat(t[2]," {")),o&&(r+="@layer".concat(t[5].length>0?" ".concat(t[5]):""," {")),r+=e(t),o&&(r+="}"),t[2]&&(r+="}"),t[4]&&(r+="}"),r}).join("")},t.i=function(e,r,o,n,a){"string"==typeof e&&(e=[[null,e,void 0]]);var i={};if(o)for(var s=0;s<this.length;s++){var d=this[s][0];null!=d&&(i[d]=!0)}for(var c=0;c<e.length;c++){var p=[].concat(e[c]);o&&i[p[0]]||(void 0!==a&&(void 0===p[5]||(p[1]="@layer".concat(p[5].length>0?" ".concat(p[5]):""," {").concat(p[1],"}")),p[5]=a),r&&(p[2]&&(p[1]="@media ".concat(p[2]," {").concat(p[1],"}")),p[2]=r),n&&(p[4]?(p[1]="@supports (".concat(p[4],") {").concat(p[1],"}"),p[4]=n):p[4]="".concat(n)),t.push(p))}},t}},601(e){e.exports=function(e){return e[1]}},72(e){var t=[];function r(e){for(var r=-1,o=0;o<t.length;o++)if(t[o].identifier===e){r=o;break}return r}function o(e,o){for(var n={},a=[],i=0;i<e.length;i++){var s=e[i],d=o.base?s[0]+o.base:s[0],c=n[d]||0,p="".concat(d," ").concat(c);n[d]=c+1;var l=r(p),m={css:s[1],media:s[2],sourceMap:s[3],supports:s[4],layer:s[5]};if(-1!==l)t[l].references++,t[l].updater(m);else{var u=function(e,t){var r=t.domAPI(t);return r.update(e),function(t){t?(t.css!==e.css||t.media!==e.media||t.sourceMap!==e.sourceMap||t.supports!==e.supports||t.layer!==e.layer)&&r.update(e=t):r.remove()}}(m,o);o.byIndex=i,t.splice(i,0,{identifier:p,updater:u,references:1})}a.push(p)}return a}e.exports=function(e,n){var a=o(e=e||[],n=n||{});return function(e){e=e||[];for(var i=0;i<a.length;i++){var s=r(a[i]);t[s].references--}for(var d=o(e,n),c=0;c<a.length;c++){var p=r(a[c]);0===t[p].references&&(t[p].updater(),t.splice(p,1))}a=d}}},659(e){var t={};e.exports=function(e,r){var o=function(e){if(void 0===t[e]){var r=document.querySelector(e);if(window.HTMLIFrameElement&&r instanceof window.HTMLIFrameElement)try{r=r.contentDocument.head}catch(e){r=null}t[e]=r}return t[e]}(e);if(!o)throw Error("Couldn't find a style target. This probably means that the value for the 'insert' parameter is invalid.");o.appendChild(r)}},540(e){e.exports=function(e){var t=document.createElement("style");return e.setAttributes(t,e.attributes),e.insert(t,e.options),t}},56(e,t,r){e.exports=function(e){var t=r.nc;t&&e.setAttribute("nonce",t)}},825(e){e.exports=function(e){if("u"<typeof document)return{update:function(){},remove:function(){}};var t=e.insertStyleElement(e);return{update:function(r){var o,n,a;o="",r.supports&&(o+="@supports (".concat(r.supports,") {")),r.media&&(o+="@media ".concat(r.media," {")),(n=void 0!==r.layer)&&(o+="@layer".concat(r.layer.length>0?" ".concat(r.layer):""," {")),o+=r.css,n&&(o+="}"),r.media&&(o+="}"),r.supports&&(o+="}"),(a=r.sourceMap)&&"u">typeof btoa&&(o+="\n/*# sourceMappingURL=data:application/json;base64,".concat(btoa(unescape(encodeURIComponent(JSON.stringify(a))))," */")),e.styleTagTransform(o,t,e.options)},remove:function(){var e;null===(e=t).parentNode||e.parentNode.removeChild(e)}}}},113(e){e.exports=function(e,t){if(t.styleSheet)t.styleSheet.cssText=e;else{for(;t.firstChild;)t.removeChild(t.firstChild);t.appendChild(document.createTextNode(e))}}},959(e,t,r){var o=r(72),n=r.n(o),a=r(825),i=r.n(a),s=r(659),d=r.n(s),c=r(56),p=r.n(c),l=r(540),m=r.n(l),u=r(113),g=r.n(u),f=r(646),v={};v.styleTagTransform=g(),v.setAttributes=p(),v.insert=d().bind(null,"head"),v.domAPI=i(),v.insertStyleElement=m(),n()(f.A,v),f.A&&f.A.locals&&f.A.locals}}]);